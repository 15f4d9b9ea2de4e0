#!/usr/bin/env bash
# Stops the PostgreSQL started by up.sh. Harmless when it is not running. --purge removes its data.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run="${AGENTGATE_PG_DIR:-$repo/.run/postgres}"
if [[ -f "$run/env" ]]; then
  # shellcheck disable=SC1091
  source "$run/env"
  as_pg=()
  [[ "$(id -u)" == 0 ]] && as_pg=(runuser -u postgres --)
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 && echo "postgres/down.sh: stopped" >&2 || true
  rm -f "$run/env"
fi
if [[ "${1:-}" == "--purge" ]]; then rm -rf "$run"; fi
