#!/bin/sh
# Builds ExternalDNS from the Go module proxy (this directory's own module)
# and prints the binary's path. The binary is cached outside the clone, keyed
# by this module's go.sum and the Go version, so only the first run pays for
# the build (several minutes on two cores).
#
# Exit codes: 0 built or cached (path on stdout); 3 no go command;
# 4 the modules could not be downloaded (no network or proxy); 1 other.
set -eu
cd "$(dirname "$0")"

command -v go >/dev/null 2>&1 || { echo "build.sh: no go command in PATH" >&2; exit 3; }

# The caller's GOFLAGS (for example a -modfile meant for the main module)
# must not leak into this module.
export GOFLAGS= GOWORK=off CGO_ENABLED=0

cache="${SKYDNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/skydns}"
version=$(awk '$1 == "sigs.k8s.io/external-dns" && $2 ~ /^v/ {print $2; exit}' go.mod)
key=$( (cat go.mod go.sum; go env GOVERSION GOOS GOARCH) | sha256sum | cut -c1-12)
bin="$cache/external-dns-$version-$key"

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
echo "build.sh: building external-dns $version into $bin (takes a few minutes, once)" >&2
if ! go mod download sigs.k8s.io/external-dns >&2; then
	echo "build.sh: could not download the modules (is the Go module proxy reachable?)" >&2
	exit 4
fi
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
if ! go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$tmp" sigs.k8s.io/external-dns >&2; then
	# A download that fails halfway through the build is a network problem
	# too; anything else is a real failure.
	if ! go mod download >/dev/null 2>&1; then
		echo "build.sh: could not download the modules (is the Go module proxy reachable?)" >&2
		exit 4
	fi
	exit 1
fi
mv "$tmp" "$bin"
trap - EXIT
echo "$bin"
