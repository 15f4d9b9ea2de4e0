#!/usr/bin/env bash
# Checks the README's prerequisites before anything is built or run, and names the first
# missing one in a single line with how to get it (never a stack trace from a test later).
# Used by `make test` and `make demo`. The same list as the README's Prerequisites section.
set -euo pipefail

missing() { echo "prerequisite missing: $1" >&2; exit 1; }

# version_at_least HAVE WANT: dotted versions, numerically.
version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

for tool in sha256sum sort date; do
  command -v "$tool" >/dev/null || missing "$tool (GNU coreutils; Debian/Ubuntu: apt-get install coreutils)"
done
command -v go >/dev/null || missing "go (Go >= 1.26): https://go.dev/doc/install (Debian/Ubuntu: apt-get install golang-go if it is >= 1.26)"
go_version="$(go env GOVERSION 2>/dev/null)"; go_version="${go_version#go}"
version_at_least "${go_version%%[-+ ]*}" 1.26 || missing "Go >= 1.26 (found $go_version): https://go.dev/doc/install"

command -v node >/dev/null || missing "node (Node.js >= 20.19): https://nodejs.org/en/download (Debian/Ubuntu: apt-get install nodejs npm)"
node_version="$(node --version)"; node_version="${node_version#v}"
version_at_least "$node_version" 20.19 || missing "Node.js >= 20.19 (found $node_version): https://nodejs.org/en/download"
command -v npm >/dev/null || missing "npm (ships with Node.js; Debian/Ubuntu: apt-get install npm)"

command -v openssl >/dev/null || missing "openssl (Debian/Ubuntu: apt-get install openssl)"
for tool in setsid flock; do
  command -v "$tool" >/dev/null || missing "$tool (util-linux; Debian/Ubuntu: apt-get install util-linux)"
done
command -v awk >/dev/null || missing "awk (Debian/Ubuntu: apt-get install gawk)"
command -v sed >/dev/null || missing "sed (Debian/Ubuntu: apt-get install sed)"
exit 0
