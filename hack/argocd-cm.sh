#!/usr/bin/env bash
# Prints an argocd-cm patch carrying agentgate's Argo CD health checks.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../charts/agentgate/argocd/agentgate.io" && pwd)"
echo "data:"
for kind in AccessGrant AgentIdentity ApprovalRequest; do
  echo "  resource.customizations.health.agentgate.io_${kind}: |"
  sed 's/^/    /' "$dir/$kind/health.lua"
done
