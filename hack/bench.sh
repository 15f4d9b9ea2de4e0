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
# The audit benchmarks measure PostgreSQL too (and fail without it).
pg_run="${AGENTGATE_PG_DIR:-$repo/.run/postgres}"
pg_started=""
[[ -f "$pg_run/env" ]] || pg_started=1
hack/postgres/up.sh
cleanup() {
  if [[ -n "$pg_started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/postgres/down.sh >/dev/null 2>&1 || true; fi
  if [[ -n "$started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/controlplane/down.sh >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
node dist/bench/run.js
