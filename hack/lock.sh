# Sourced by the build scripts: one build per cache entry at a time. Concurrent callers
# (several worktrees, or the unit and e2e suites at once) wait for the running build and
# then reuse its result instead of compiling the same thing again on the same cores.
#   lock_or_wait FILE "what"    holds FILE's lock on fd 9 until the script exits
lock_or_wait() {
  local file="$1" what="$2"
  mkdir -p "$(dirname "$file")"
  exec 9>"$file"
  if ! flock -n 9; then
    echo "  another process is building $what; waiting for it (then reusing its result)" >&2
    flock 9
  fi
}
