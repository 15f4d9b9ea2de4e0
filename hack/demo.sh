#!/usr/bin/env bash
# The main job: builds and starts the local control plane, installs and starts agentgate,
# and runs the seed scenario narrated (demo/seed.ts). Stops what it started, including
# the control plane if it was not running before (KEEP_CONTROLPLANE=1 keeps it).
# `hack/demo.sh mcp` runs the same scenario as an MCP agent instead (demo/mcp.ts).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
hack/prereqs.sh
hack/deps.sh
npx tsc -p tsconfig.json
started=""
if [[ -z "${E2E_KUBECONFIG_DIR:-}" ]]; then
  run="${AGENTGATE_RUN_DIR:-$repo/.run/controlplane}"
  [[ -f "$run/env" ]] || started=1
  hack/controlplane/up.sh
fi
cleanup() { if [[ -n "$started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/controlplane/down.sh >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
# The embedded audit store (PGlite), as a one-replica install runs by default.
export E2E_AUDIT_STORE=pglite
case "${1:-seed}" in
  seed) node dist/demo/seed.js ;;
  mcp) node dist/demo/mcp.js ;;
  *) echo "usage: hack/demo.sh [seed|mcp]" >&2; exit 2 ;;
esac
