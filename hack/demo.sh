#!/usr/bin/env bash
# The main job: builds and starts the local control plane, installs and starts agentgate,
# and runs the seed scenario narrated (demo/seed.ts). Stops what it started, including
# the control plane if it was not running before (KEEP_CONTROLPLANE=1 keeps it).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
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
E2E_AUDIT_STORE=pglite node dist/demo/seed.js
