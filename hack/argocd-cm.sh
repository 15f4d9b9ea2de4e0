#!/usr/bin/env bash
# Prints an argocd-cm patch carrying agentgate's Argo CD health checks: every
# charts/agentgate/argocd/<group>/<Kind>/health.lua.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../charts/agentgate/argocd" && pwd)"
echo "data:"
for script in "$root"/*/*/health.lua; do
  kind_dir="$(dirname "$script")"
  echo "  resource.customizations.health.$(basename "$(dirname "$kind_dir")")_$(basename "$kind_dir"): |"
  sed 's/^/    /' "$script"
done
