#!/bin/sh
# build-cached.sh NAME MODULE PACKAGE: builds PACKAGE of MODULE (a tool the
# tests run beside SkyDNS, pinned by the calling directory's own go.mod) from
# the Go module proxy and prints the binary's path. The binary is cached
# outside the clone, keyed by that go.mod and go.sum and the Go version, so
# only the first run pays for the build (several minutes on two cores).
# Run it from the tool's directory (scripts/<tool>/build.sh does).
#
# Exit codes: 0 built or cached (path on stdout); 3 no go command;
# 4 the modules could not be downloaded (no network or proxy); 1 other.
set -eu
name=$1 module=$2 package=$3

command -v go >/dev/null 2>&1 || { echo "build.sh: no go command in PATH" >&2; exit 3; }

# The caller's GOFLAGS (for example a -modfile meant for the main module)
# must not leak into this module.
export GOFLAGS= GOWORK=off CGO_ENABLED=0

cache="${SKYDNS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/skydns}"
version=$(awk -v m="$module" '$1 == m && $2 ~ /^v/ {print $2; exit}' go.mod)
key=$( (cat go.mod go.sum; go env GOVERSION GOOS GOARCH) | sha256sum | cut -c1-12)
bin="$cache/$name-$version-$key"

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
mkdir -p "$cache"
echo "build.sh: building $name $version into $bin (takes a few minutes, once)" >&2
if ! go mod download "$module" >&2; then
	echo "build.sh: could not download the modules (is the Go module proxy reachable?)" >&2
	exit 4
fi
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
if ! go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$tmp" "$package" >&2; then
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
