#!/usr/bin/env bash
# Starts a throw-away PostgreSQL for the audit store's e2e tests: initdb into
# .run/postgres, loopback only, a free port, a random password. Run as root (CI), it runs
# the server as the unprivileged `postgres` user (PostgreSQL refuses root). Starting again
# while it runs is harmless. Writes .run/postgres/env (PG_DSN, PG_PORT) for sourcing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run="${AGENTGATE_PG_DIR:-$repo/.run/postgres}"
log() { echo "postgres/up.sh: $*" >&2; }

bindir=""
for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/pg_ctl" ]] && bindir="$d"; done
if [[ -z "$bindir" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/pg_ctl" ]] && bindir="$d"; done
  fi
  [[ -n "$bindir" ]] || { log "no PostgreSQL found (apt-get install postgresql)"; exit 1; }
fi

as_pg=()
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  as_pg=(runuser -u postgres --)
fi

if [[ -f "$run/env" ]] && "${as_pg[@]}" "$bindir/pg_ctl" -D "$run/data" status >/dev/null 2>&1; then
  log "already running ($run)"; exit 0
fi
"$here/down.sh" >/dev/null 2>&1 || true
rm -rf "$run"; mkdir -p "$run"
password="$(openssl rand -hex 16)"
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
printf '%s\n' "$password" > "$run/pwfile"
chmod 0700 "$run"
[[ ${#as_pg[@]} -gt 0 ]] && chown -R postgres "$run"
"${as_pg[@]}" "$bindir/initdb" -D "$run/data" -U agentgate --pwfile="$run/pwfile" --auth=scram-sha-256 -E UTF8 >"$run/initdb.log" 2>&1 \
  || { cat "$run/initdb.log" >&2; exit 1; }
rm -f "$run/pwfile"
# In the configuration, not on the command line, so ctl.sh can stop and start it as it is.
cat >> "$run/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
max_connections = 100
CONF
"${as_pg[@]}" "$bindir/pg_ctl" -D "$run/data" -l "$run/postgres.log" -w -t 60 start >/dev/null \
  || { tail -n 30 "$run/postgres.log" >&2; exit 1; }
PGPASSWORD="$password" psql -h 127.0.0.1 -p "$port" -U agentgate -d postgres -qc 'CREATE DATABASE agentgate' >/dev/null
cat > "$run/env" <<ENV
# Written by hack/postgres/up.sh
PG_BIN=$bindir
PG_PORT=$port
PG_DATA=$run/data
PG_DSN=postgres://agentgate:$password@127.0.0.1:$port/agentgate
ENV
chmod 0600 "$run/env"
log "ready on 127.0.0.1:$port (database agentgate; DSN in $run/env)"
