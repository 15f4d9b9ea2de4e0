#!/usr/bin/env bash
# Runs the benchmarks (bench/) against the local control plane, starting it if needed and
# stopping it again if it was started here. BENCH=substring selects benchmarks.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
hack/deps.sh
npx tsc -p tsconfig.json
run="${AGENTGATE_RUN_DIR:-$repo/.run/controlplane}"
started=""
[[ -f "$run/env" ]] || started=1
hack/controlplane/up.sh
cleanup() { if [[ -n "$started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/controlplane/down.sh >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
node dist/bench/run.js
