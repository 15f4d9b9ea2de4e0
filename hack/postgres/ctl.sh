#!/usr/bin/env bash
# Stops or starts the PostgreSQL of up.sh with its data kept (fault tests: database down).
# usage: hack/postgres/ctl.sh stop|start
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run="${AGENTGATE_PG_DIR:-$repo/.run/postgres}"
[[ -f "$run/env" ]] || { echo "ctl.sh: no PostgreSQL from up.sh in $run" >&2; exit 1; }
# shellcheck disable=SC1091
source "$run/env"
as_pg=()
[[ "$(id -u)" == 0 ]] && as_pg=(runuser -u postgres --)
case "${1:-}" in
  stop) "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null ;;
  start) "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$run/postgres.log" -w -t 60 start >/dev/null ;;
  *) echo "usage: $0 stop|start" >&2; exit 2 ;;
esac
