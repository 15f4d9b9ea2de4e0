#!/usr/bin/env bash
# Stops the local control plane started by up.sh; leaves no process behind.
# Stopping again when nothing runs is harmless. --purge also removes its state (PKI, data).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
run="${AGENTGATE_RUN_DIR:-$repo/.run/controlplane}"

stop() {
  local f="$run/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    # Each component runs in its own session (setsid): end the whole group.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "down.sh: stopped $1 (pid $pid)" >&2
  fi
  rm -f "$f"
}
for c in kube-controller-manager kube-apiserver etcd; do stop "$c"; done
rm -f "$run/env"
if [[ "${1:-}" == "--purge" ]]; then rm -rf "$run"; echo "down.sh: removed $run" >&2; fi
