#!/usr/bin/env bash
# Makes the e2e identities on ANY cluster (kind, EKS test clusters, ...) as real client
# certificates issued by the cluster's own signer through the CertificateSigningRequest
# API: agent (agent:deploy-bot, group agentgate:agents), alice and bob (sre-approvers),
# mallory (developers); plus admin.kubeconfig copied from the given kubeconfig.
#
#   hack/e2e-identities.sh OUT_DIR          (uses $KUBECONFIG / current context as admin)
#   E2E_KUBECONFIG_DIR=OUT_DIR make test-e2e
set -euo pipefail
out="${1:?usage: $0 OUT_DIR}"
mkdir -p "$out"
kubectl="${KUBECTL:-kubectl}"
admin_kc="$out/admin.kubeconfig"
"$kubectl" config view --raw --minify --flatten > "$admin_kc"
chmod 600 "$admin_kc"
server="$("$kubectl" --kubeconfig "$admin_kc" config view -o jsonpath='{.clusters[0].cluster.server}')"
ca_data="$("$kubectl" --kubeconfig "$admin_kc" config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

for id in "agent|agent:deploy-bot|agentgate:agents" "alice|alice|sre-approvers" "bob|bob|sre-approvers" "mallory|mallory|developers"; do
  IFS='|' read -r name cn group <<<"$id"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn/O=$group" -keyout "$tmp/$name.key" -out "$tmp/$name.csr" 2>/dev/null
  csr="agentgate-e2e-$name-$(date +%s)"
  "$kubectl" --kubeconfig "$admin_kc" apply -f - >/dev/null <<CSR
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata:
  name: $csr
spec:
  request: $(base64 -w0 < "$tmp/$name.csr")
  signerName: kubernetes.io/kube-apiserver-client
  expirationSeconds: 86400
  usages: [client auth]
CSR
  "$kubectl" --kubeconfig "$admin_kc" certificate approve "$csr" >/dev/null
  for _ in $(seq 1 60); do
    cert="$("$kubectl" --kubeconfig "$admin_kc" get csr "$csr" -o jsonpath='{.status.certificate}')"
    [[ -n "$cert" ]] && break
    sleep 0.5
  done
  [[ -n "$cert" ]] || { echo "e2e-identities: CSR $csr was not signed; does the cluster run the kube-apiserver-client signer?" >&2; exit 1; }
  f="$out/$name.kubeconfig"
  cat > "$f" <<KC
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: $server
    certificate-authority-data: $ca_data
users:
- name: $name
  user:
    client-certificate-data: $cert
    client-key-data: $(base64 -w0 < "$tmp/$name.key")
contexts:
- name: e2e
  context: {cluster: e2e, user: $name}
current-context: e2e
KC
  chmod 600 "$f"
  "$kubectl" --kubeconfig "$admin_kc" delete csr "$csr" >/dev/null
  echo "e2e-identities: $f ($("$kubectl" --kubeconfig "$f" auth whoami -o jsonpath='{.status.userInfo.username}'))" >&2
done
