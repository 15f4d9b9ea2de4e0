# Sourced by long-running hack scripts: a ticker that says what is happening and for how
# long, so a slow first build is never silent. On a terminal it rewrites one line every
# 2 s; otherwise (CI logs) it prints one line every 10 s. Output goes to stderr, since the
# build scripts print their result on stdout.
#   progress_start "building helm v3.22.0"; long command; progress_stop
# Callers also call progress_stop from their EXIT trap, so the ticker never outlives them.
progress_pid=""

progress_start() {
  progress_stop
  local label="$1" start every=10
  start=$(date +%s)
  [[ -t 2 ]] && every=2
  (
    nap=""
    trap '[[ -n "$nap" ]] && kill "$nap" 2>/dev/null; exit 0' TERM
    while :; do
      sleep "$every" & nap=$!; wait "$nap"
      kill -0 "$$" 2>/dev/null || exit 0 # the script was killed without running its trap
      elapsed=$(( $(date +%s) - start ))
      if [[ -t 2 ]]; then
        printf '\r  %s: %dm%02ds elapsed ' "$label" $((elapsed / 60)) $((elapsed % 60)) >&2
      else
        printf '  %s: %dm%02ds elapsed\n' "$label" $((elapsed / 60)) $((elapsed % 60)) >&2
      fi
    done
  ) &
  progress_pid=$!
}

progress_stop() {
  [[ -n "$progress_pid" ]] || return 0
  kill "$progress_pid" 2>/dev/null || true
  wait "$progress_pid" 2>/dev/null || true
  progress_pid=""
  [[ -t 2 ]] && printf '\r\033[K' >&2
  return 0
}
