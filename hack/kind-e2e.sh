#!/usr/bin/env bash
# Runs the same e2e suite on a kind cluster. Needs Docker and kind (not available on the
# machines agentgate is developed on, which use the local control plane instead).
# The webhook runs on this host; the kind node reaches it through the Docker bridge, so
# E2E_WEBHOOK_HOST (default: the bridge gateway) is the address the apiserver calls.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="${KIND_CLUSTER:-agentgate-e2e}"
command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "kind-e2e: needs a running Docker engine" >&2; exit 1; }
command -v kind >/dev/null || { echo "kind-e2e: needs kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kind-e2e: needs kubectl on PATH" >&2; exit 1; }

if ! kind get clusters | grep -qx "$cluster"; then
  kind create cluster --name "$cluster" --wait 120s
fi
dir="$repo/.run/kind-$cluster"
mkdir -p "$dir"
kind get kubeconfig --name "$cluster" > "$dir/kind.kubeconfig"
KUBECONFIG="$dir/kind.kubeconfig" "$repo/hack/e2e-identities.sh" "$dir/identities"
export E2E_WEBHOOK_HOST="${E2E_WEBHOOK_HOST:-$(docker network inspect kind -f '{{(index .IPAM.Config 0).Gateway}}')}"
E2E_KUBECONFIG_DIR="$dir/identities" "$repo/hack/test.sh" e2e
