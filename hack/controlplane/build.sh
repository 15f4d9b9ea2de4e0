#!/usr/bin/env bash
# Builds (or finds) the pinned control-plane binaries and prints the folder holding
# them: kube-apiserver, kube-controller-manager, kubectl, etcd.
#
# Versions are pinned by go.mod/go.sum beside this script. Binaries land in
# $AGENTGATE_CACHE_DIR (default ~/.cache/agentgate) under a key derived from the pins
# and the Go toolchain, so a build happens only when a version changes.
# Given binaries win when they report the pinned versions: $KUBEBUILDER_ASSETS, then PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

source "$here/../progress.sh"
source "$here/../lock.sh"
log() { echo "build.sh: $*" >&2; }

k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit} $2=="k8s.io/kubernetes"{print $3; exit}' go.mod)"
etcd_version="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit} $2=="go.etcd.io/etcd/server/v3"{print $3; exit}' go.mod)"
[[ -n "$k8s_version" && -n "$etcd_version" ]] || { log "cannot read pinned versions from $here/go.mod"; exit 1; }

bins=(kube-apiserver kube-controller-manager kubectl etcd)

# has_pinned DIR: DIR holds every binary, each at the pinned version.
has_pinned() {
  local d="$1" out
  for b in "${bins[@]}"; do [[ -x "$d/$b" ]] || return 1; done
  # Capture first: grep -q closing the pipe early would fail the pipeline under pipefail.
  out="$("$d/kube-apiserver" --version 2>/dev/null)"; [[ "$out" == "Kubernetes $k8s_version" ]] || return 1
  out="$("$d/kube-controller-manager" --version 2>/dev/null)"; [[ "$out" == "Kubernetes $k8s_version" ]] || return 1
  out="$("$d/kubectl" version --client 2>/dev/null)"; grep -q "^Client Version: $k8s_version\$" <<<"$out" || return 1
  out="$("$d/etcd" --version 2>/dev/null)"; grep -q "^etcd Version: ${etcd_version#v}\$" <<<"$out" || return 1
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]] && has_pinned "$KUBEBUILDER_ASSETS"; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS ($k8s_version, etcd $etcd_version)"
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
path_dir="$(dirname "$(command -v kube-apiserver 2>/dev/null || echo /nonexistent/x)")"
if has_pinned "$path_dir"; then
  log "using binaries on PATH in $path_dir"
  echo "$path_dir"; exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane (https://go.dev/doc/install), or set KUBEBUILDER_ASSETS to a folder with kube-apiserver $k8s_version, kube-controller-manager, kubectl and etcd $etcd_version"; exit 1; }

# The key covers what goes into the binaries (pins, sources, toolchain, flags but the build
# date), not this script's messages.
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
key="$( (go version; cat go.mod go.sum; find cmd -name '*.go' -print0 | sort -z | xargs -0 cat; echo "CGO_ENABLED=0 -mod=readonly -trimpath $ldflags ./cmd/...") | sha256sum | cut -c1-16)"
cache="${AGENTGATE_CACHE_DIR:-$HOME/.cache/agentgate}/controlplane/${k8s_version}-etcd${etcd_version}-${key}"
if has_pinned "$cache"; then
  echo "$cache"; exit 0
fi
lock_or_wait "$cache.lock" "the control plane"
if has_pinned "$cache"; then
  echo "$cache"; exit 0
fi

log "first build: ~5 min on 2 cores, ~3.5 GB (0.6 GB Go modules + 2.9 GB build cache); later runs reuse the cache"
log "building kube-apiserver, kube-controller-manager, kubectl $k8s_version and etcd $etcd_version into $cache"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.buildDate=$build_date"
done
tmp="$cache.tmp.$$"
mkdir -p "$tmp"
trap 'progress_stop; rm -rf "$tmp"' EXIT
start=$(date +%s)
progress_start "downloading modules and compiling kube-apiserver, kube-controller-manager, kubectl, etcd"
CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp/" ./cmd/...
progress_stop
rm -rf "$cache"; mv "$tmp" "$cache"; trap - EXIT
has_pinned "$cache" || { log "built binaries in $cache do not report the pinned versions"; exit 1; }
log "built in $(( $(date +%s) - start ))s"
echo "$cache"
