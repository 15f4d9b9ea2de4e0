#!/usr/bin/env bash
# Builds (or finds) the pinned developer tools from their Go modules and prints the
# folder holding them: helm (charts lint/template). Pins: go.mod/go.sum beside this file.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
helm_version="$(awk '$1=="helm.sh/helm/v3"{print $2; exit}' go.mod)"
key="$( (go version; cat go.mod go.sum "$here/build.sh") | sha256sum | cut -c1-16)"
dir="${AGENTGATE_CACHE_DIR:-$HOME/.cache/agentgate}/tools/helm-${helm_version}-${key}"
if [[ -x "$dir/helm" ]] && "$dir/helm" version --short 2>/dev/null | grep -q "^${helm_version}"; then
  echo "$dir"; exit 0
fi
echo "tools/build.sh: building helm $helm_version into $dir (about 1-2 minutes the first time)" >&2
tmp="$dir.tmp.$$"; mkdir -p "$tmp"; trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -mod=readonly -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version" \
  -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
rm -rf "$dir"; mv "$tmp" "$dir"; trap - EXIT
echo "$dir"
