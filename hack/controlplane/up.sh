#!/usr/bin/env bash
# Starts a local control plane on loopback: etcd, kube-apiserver (RBAC, ServiceAccount
# token signing, admission webhooks, the aggregation layer, the audit webhook backend
# towards agentgate) and kube-controller-manager with a few controllers.
# Writes kubeconfigs for admin, the agent, an approver and a non-approver, each a real
# client-certificate identity. Starting again while it runs is harmless.
#
# State: $AGENTGATE_RUN_DIR (default <repo>/.run/controlplane): pki/, kubeconfig/,
# logs/, data/, env (ports and paths, for sourcing).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run="${AGENTGATE_RUN_DIR:-$repo/.run/controlplane}"
log() { echo "up.sh: $*" >&2; }

alive() { [[ -f "$run/$1.pid" ]] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

if alive etcd && alive kube-apiserver && alive kube-controller-manager && [[ -f "$run/env" ]]; then
  # shellcheck disable=SC1091
  source "$run/env"
  if "$BIN/kubectl" --kubeconfig "$run/kubeconfig/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    log "already running at $APISERVER_URL (state in $run)"
    exit 0
  fi
fi
# Something half-started: clear it before starting fresh.
"$here/down.sh" >/dev/null 2>&1 || true

BIN="$("$here/build.sh")"
# A fresh start gets a fresh, empty cluster; only the PKI survives (kubeconfigs stay valid).
rm -rf "$run/data" "$run/logs"
mkdir -p "$run"/{pki,kubeconfig,logs,data}
pki="$run/pki"

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
ETCD_PORT="$(free_port)"; ETCD_PEER_PORT="$(free_port)"; APISERVER_PORT="$(free_port)"; KCM_PORT="$(free_port)"
while [[ "$ETCD_PEER_PORT" == "$ETCD_PORT" ]]; do ETCD_PEER_PORT="$(free_port)"; done
while [[ "$APISERVER_PORT" == "$ETCD_PORT" || "$APISERVER_PORT" == "$ETCD_PEER_PORT" ]]; do APISERVER_PORT="$(free_port)"; done
# agentgate's audit API and audit-backend endpoint: fixed at start, because the
# apiserver's audit webhook configuration names it.
AUDIT_PORT="$(free_port)"
while [[ " $ETCD_PORT $ETCD_PEER_PORT $APISERVER_PORT $KCM_PORT " == *" $AUDIT_PORT "* ]]; do AUDIT_PORT="$(free_port)"; done
APISERVER_URL="https://127.0.0.1:$APISERVER_PORT"

# --- PKI (kept across restarts so kubeconfigs stay valid) -----------------------------
ossl() { openssl "$@" 2>>"$pki/openssl.log"; }
if [[ ! -f "$pki/ca.crt" ]]; then
  log "creating PKI in $pki"
  ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=agentgate-local-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt"
  cat > "$pki/server.ext" <<EXT
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EXT
  ossl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr"
  ossl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/server.ext" -out "$pki/apiserver.crt"
  printf 'extendedKeyUsage=clientAuth\n' > "$pki/client.ext"
  # name|CN|O (groups, comma separated)
  for id in "admin|kubernetes-admin|system:masters" \
            "controller-manager|system:kube-controller-manager|" \
            "agent|agent:deploy-bot|agentgate:agents" \
            "alice|alice|sre-approvers" \
            "bob|bob|sre-approvers" \
            "mallory|mallory|developers"; do
    IFS='|' read -r name cn groups <<<"$id"
    subj="/CN=$cn"
    IFS=',' read -ra gs <<<"$groups"
    for g in "${gs[@]}"; do subj+="/O=$g"; done
    ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr"
    ossl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -extfile "$pki/client.ext" -out "$pki/$name.crt"
  done
  ossl genrsa -out "$pki/sa.key" 2048
  ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
  rm -f "$pki"/*.csr
fi
# bench/audit-agent-overhead.ts's third identity: a non-agent whose calls only a bare
# webhook sees. Apart from the list above, so a PKI made before it gains it too.
if [[ ! -f "$pki/hop.crt" ]]; then
  ossl req -newkey rsa:2048 -nodes -subj "/CN=hop/O=developers" -keyout "$pki/hop.key" -out "$pki/hop.csr"
  ossl x509 -req -in "$pki/hop.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/client.ext" -out "$pki/hop.crt"
  rm -f "$pki/hop.csr"
fi
if [[ ! -f "$pki/agentgate-audit.crt" ]]; then
  # The aggregation layer's front proxy: its own CA, as upstream requires.
  ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=agentgate-local-front-proxy-ca" \
    -keyout "$pki/front-proxy-ca.key" -out "$pki/front-proxy-ca.crt"
  ossl req -newkey rsa:2048 -nodes -subj "/CN=front-proxy-client" -keyout "$pki/front-proxy-client.key" -out "$pki/front-proxy-client.csr"
  ossl x509 -req -in "$pki/front-proxy-client.csr" -CA "$pki/front-proxy-ca.crt" -CAkey "$pki/front-proxy-ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/client.ext" -out "$pki/front-proxy-client.crt"
  # The apiserver's client certificate towards agentgate's audit-backend endpoint, and
  # agentgate's serving certificate for its audit API (the APIService and the audit
  # webhook configuration both trust the local CA).
  ossl req -newkey rsa:2048 -nodes -subj "/CN=agentgate-audit-sink-client" -keyout "$pki/audit-sink-client.key" -out "$pki/audit-sink-client.csr"
  ossl x509 -req -in "$pki/audit-sink-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/client.ext" -out "$pki/audit-sink-client.crt"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:agentgate-audit.agentgate-system.svc\nextendedKeyUsage=serverAuth\n' > "$pki/agentgate-audit.ext"
  ossl req -newkey rsa:2048 -nodes -subj "/CN=agentgate-audit" -keyout "$pki/agentgate-audit.key" -out "$pki/agentgate-audit.csr"
  ossl x509 -req -in "$pki/agentgate-audit.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/agentgate-audit.ext" -out "$pki/agentgate-audit.crt"
  rm -f "$pki"/*.csr
fi

# --- the apiserver's audit backend: agentgate's endpoint, agents' identities only ----------
# Reads and RBAC-refused calls never reach admission; the audit webhook backend (batch
# mode) sends them to agentgate. The policy selects the local agent identities (what
# `agentgate audit policy` generates from the AgentIdentities on a real cluster).
cat > "$run/audit-policy.yaml" <<POLICY
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
    users: ["agent:deploy-bot"]
  - level: Metadata
    userGroups: ["agentgate:agents"]
  - level: None
POLICY
cat > "$run/audit-webhook.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: agentgate-audit
    cluster:
      server: https://127.0.0.1:$AUDIT_PORT/audit/events
      certificate-authority: $pki/ca.crt
users:
  - name: kube-apiserver
    user:
      client-certificate: $pki/audit-sink-client.crt
      client-key: $pki/audit-sink-client.key
contexts:
  - name: default
    context: {cluster: agentgate-audit, user: kube-apiserver}
current-context: default
KC

# The client certificate the apiserver presents to admission webhooks (self-managed
# clusters can do this; EKS cannot), so agentgate's --client-ca mode can be proven.
if [[ ! -f "$pki/webhook-client.crt" ]]; then
  printf 'extendedKeyUsage=clientAuth\n' > "$pki/client.ext"
  ossl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver-webhook-client" -keyout "$pki/webhook-client.key" -out "$pki/webhook-client.csr"
  ossl x509 -req -in "$pki/webhook-client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/client.ext" -out "$pki/webhook-client.crt"
  rm -f "$pki/webhook-client.csr"
fi
cat > "$run/webhook-client.kubeconfig" <<KC
apiVersion: v1
kind: Config
users:
  - name: '*'
    user:
      client-certificate: $pki/webhook-client.crt
      client-key: $pki/webhook-client.key
KC
cat > "$run/admission.yaml" <<ADM
apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: ValidatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: $run/webhook-client.kubeconfig
  - name: MutatingAdmissionWebhook
    configuration:
      apiVersion: apiserver.config.k8s.io/v1
      kind: WebhookAdmissionConfiguration
      kubeConfigFile: $run/webhook-client.kubeconfig
ADM

# --- etcd ------------------------------------------------------------------------------
start() { # name, then the command
  local name="$1"; shift
  setsid "$@" >>"$run/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$run/$name.pid"
}
log "starting etcd on 127.0.0.1:$ETCD_PORT"
start etcd "$BIN/etcd" --name local --data-dir "$run/data/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=4294967296 --log-level warn

# --- kube-apiserver -----------------------------------------------------------------------
log "starting kube-apiserver on $APISERVER_URL"
start kube-apiserver "$BIN/kube-apiserver" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
  --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" \
  --authorization-mode RBAC --anonymous-auth=false \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --api-audiences https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range 10.0.0.0/24 \
  --enable-admission-plugins NamespaceLifecycle,ServiceAccount,DefaultStorageClass,ValidatingAdmissionWebhook,MutatingAdmissionWebhook,ValidatingAdmissionPolicy \
  --admission-control-config-file "$run/admission.yaml" \
  --allow-privileged=true --profiling=false --v=1 \
  --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --audit-policy-file "$run/audit-policy.yaml" --audit-webhook-config-file "$run/audit-webhook.kubeconfig" \
  --audit-webhook-mode batch --audit-webhook-batch-max-wait 1s --audit-webhook-initial-backoff 1s

kubeconfig() { # name, cert basename
  local f="$run/kubeconfig/$1.kubeconfig"
  rm -f "$f"
  "$BIN/kubectl" config --kubeconfig "$f" set-cluster local --server "$APISERVER_URL" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
  "$BIN/kubectl" config --kubeconfig "$f" set-credentials "$1" \
    --client-certificate "$pki/$2.crt" --client-key "$pki/$2.key" --embed-certs >/dev/null
  "$BIN/kubectl" config --kubeconfig "$f" set-context local --cluster local --user "$1" >/dev/null
  "$BIN/kubectl" config --kubeconfig "$f" use-context local >/dev/null
}
for n in admin controller-manager agent alice bob mallory hop; do kubeconfig "$n" "$n"; done

admin=("$BIN/kubectl" --kubeconfig "$run/kubeconfig/admin.kubeconfig")
for i in $(seq 1 240); do
  if "${admin[@]}" get --raw /readyz >/dev/null 2>&1; then break; fi
  if ! alive kube-apiserver || ! alive etcd; then
    log "control plane exited while starting; last log lines:"
    tail -n 30 "$run/logs/etcd.log" "$run/logs/kube-apiserver.log" >&2 || true
    exit 1
  fi
  sleep 0.25
  [[ $i == 240 ]] && { log "kube-apiserver not ready after 60s; see $run/logs"; tail -n 30 "$run/logs/kube-apiserver.log" >&2; exit 1; }
done

# --- kube-controller-manager (optional realism; agentgate never relies on it) ----------------
log "starting kube-controller-manager"
start kube-controller-manager "$BIN/kube-controller-manager" \
  --kubeconfig "$run/kubeconfig/controller-manager.kubeconfig" \
  --authentication-skip-lookup --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics \
  --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
  --controllers serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,clusterrole-aggregation-controller,root-ca-certificate-publisher-controller,certificatesigningrequest-signing-controller,certificatesigningrequest-approving-controller,certificatesigningrequest-cleaner-controller \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials=true --leader-elect=false --v=1

# Ready means the built-in roles agents receive (edit, view) carry their aggregated rules.
for i in $(seq 1 120); do
  if ! alive kube-controller-manager; then
    log "kube-controller-manager exited at start; last log lines:"; tail -n 20 "$run/logs/kube-controller-manager.log" >&2; exit 1
  fi
  rules="$("${admin[@]}" get clusterrole edit -o jsonpath='{.rules[*].verbs}' 2>/dev/null || true)"
  [[ -n "$rules" ]] && break
  sleep 0.25
  [[ $i == 120 ]] && { log "ClusterRole edit has no aggregated rules after 30s; see $run/logs/kube-controller-manager.log"; exit 1; }
done

cat > "$run/env" <<ENV
# Written by hack/controlplane/up.sh; source it to talk to the local control plane.
BIN=$BIN
APISERVER_URL=$APISERVER_URL
ETCD_PORT=$ETCD_PORT
RUN_DIR=$run
AUDIT_PORT=$AUDIT_PORT
AUDIT_TLS_CERT=$pki/agentgate-audit.crt
AUDIT_TLS_KEY=$pki/agentgate-audit.key
AUDIT_TLS_CA=$pki/ca.crt
AUDIT_SINK_CLIENT_CA=$pki/ca.crt
KUBECONFIG=$run/kubeconfig/admin.kubeconfig
ADMIN_KUBECONFIG=$run/kubeconfig/admin.kubeconfig
AGENT_KUBECONFIG=$run/kubeconfig/agent.kubeconfig
APPROVER_KUBECONFIG=$run/kubeconfig/alice.kubeconfig
SECOND_APPROVER_KUBECONFIG=$run/kubeconfig/bob.kubeconfig
NON_APPROVER_KUBECONFIG=$run/kubeconfig/mallory.kubeconfig
WEBHOOK_CLIENT_CA=$pki/ca.crt
WEBHOOK_CLIENT_NAME=kube-apiserver-webhook-client
ENV
log "ready at $APISERVER_URL; kubeconfigs in $run/kubeconfig; logs in $run/logs"
log "use it: source $run/env; export KUBECONFIG PATH=\$BIN:\$PATH"
