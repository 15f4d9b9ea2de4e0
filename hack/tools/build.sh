#!/usr/bin/env bash
# Builds (or finds) a pinned developer tool from its Go module and prints the folder
# holding it:
#   build.sh [helm]       helm, for the chart lint/template tests (pins: go.mod/go.sum here)
#   build.sh argocd-lua   Argo CD's Lua interpreter (gopher-lua), for the Argo CD health
#                         checks (pins: argocd-lua/go.mod, the versions Argo CD uses)
# Each lands in $AGENTGATE_CACHE_DIR/tools (default ~/.cache/agentgate) under a key derived
# from its pins, its sources, its build flags and the Go toolchain: built once, then reused.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../progress.sh"
source "$here/../lock.sh"
log() { echo "tools/build.sh: $*" >&2; }
tool="${1:-helm}"

case "$tool" in
  helm)
    mod="$here"
    version="$(awk '$1=="helm.sh/helm/v3"{print $2; exit}' "$mod/go.mod")"
    pkg=helm.sh/helm/v3/cmd/helm
    ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$version"
    cost="about 1-2 minutes on 2 cores, ~0.5 GB of Go module and build cache"
    ready() { local out; out="$("$1/helm" version --short 2>/dev/null)" && [[ "$out" == "$version"* ]]; }
    ;;
  argocd-lua)
    mod="$here/argocd-lua"
    version="gopher-lua-$(awk '$1=="github.com/yuin/gopher-lua"{print $2; exit}' "$mod/go.mod")"
    pkg=.
    ldflags="-s -w"
    cost="about 30 s of CPU, ~20 MB of Go module and build cache"
    ready() { [[ -x "$1/argocd-lua" ]]; }
    ;;
  *) log "unknown tool '$tool' (helm, argocd-lua)"; exit 2 ;;
esac

command -v go >/dev/null || { log "Go is required to build $tool: install Go >= 1.26 (https://go.dev/doc/install; Debian/Ubuntu: apt-get install golang-go)"; exit 1; }
cd "$mod"
# The key covers what goes into the binary, not this script's messages.
key="$( (go version; cat go.mod go.sum; find . -maxdepth 1 -name '*.go' -print0 | sort -z | xargs -0 -r cat; echo "$pkg $ldflags") | sha256sum | cut -c1-16)"
dir="${AGENTGATE_CACHE_DIR:-$HOME/.cache/agentgate}/tools/${tool}-${version}-${key}"
if ready "$dir"; then echo "$dir"; exit 0; fi
lock_or_wait "$dir.lock" "$tool"
if ready "$dir"; then echo "$dir"; exit 0; fi

log "building $tool $version into $dir"
log "(first build: $cost; later runs reuse the cache)"
tmp="$dir.tmp.$$"; mkdir -p "$tmp"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$(date +%s)
progress_start "building $tool $version"
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/$tool" "$pkg"
progress_stop
rm -rf "$dir"; mv "$tmp" "$dir"; trap - EXIT
ready "$dir" || { log "the built $tool in $dir does not work"; exit 1; }
log "built $tool in $(( $(date +%s) - start ))s"
echo "$dir"
