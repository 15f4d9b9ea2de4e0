#!/usr/bin/env bash
# Runs the test suite: all (unit + e2e, the README's test command), unit, or e2e.
# e2e needs a cluster: with E2E_KUBECONFIG_DIR set it uses that cluster (e.g. kind);
# otherwise it starts the local control plane, and stops it again if it started it.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
what="${1:-all}"

hack/prereqs.sh
hack/deps.sh
npx tsc -p tsconfig.json
if [[ "$what" != "e2e" ]]; then
  # The unit suite runs the chart and the Argo CD health checks through pinned tools built
  # from Go modules: build them here, where their progress shows, not inside a test.
  hack/tools/build.sh helm >/dev/null
  hack/tools/build.sh argocd-lua >/dev/null
fi

# Lint first: Biome's rules (biome.json) and no unused exports (hack/unused-exports.mjs).
npx biome lint .
npx biome format . >/dev/null 2>&1 || { echo "make test: some TypeScript files are not formatted: run 'make fmt' (or 'npx biome format .' to see where)" >&2; exit 1; }
node hack/unused-exports.mjs --strict

if [[ "$what" == "unit" ]]; then
  exec npx mocha --config .mocharc.unit.json
fi

started=""
if [[ -z "${E2E_KUBECONFIG_DIR:-}" ]]; then
  run="${AGENTGATE_RUN_DIR:-$repo/.run/controlplane}"
  if ! [[ -f "$run/env" ]]; then started=1; fi
  hack/controlplane/up.sh
fi
# The audit store's e2e tests run against a real PostgreSQL (E2E_AUDIT_STORE=pglite: the embedded one).
pg_started=""
if [[ "${E2E_AUDIT_STORE:-postgres}" == "postgres" ]]; then
  pg_run="${AGENTGATE_PG_DIR:-$repo/.run/postgres}"
  [[ -f "$pg_run/env" ]] || pg_started=1
  hack/postgres/up.sh
fi
cleanup() {
  if [[ -n "$pg_started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/postgres/down.sh >/dev/null 2>&1 || true; fi
  if [[ -n "$started" && -z "${KEEP_CONTROLPLANE:-}" ]]; then hack/controlplane/down.sh >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

config=.mocharc.all.json
[[ "$what" == "e2e" ]] && config=.mocharc.e2e.json
npx mocha --config "$config"
