#!/bin/sh
# Installs Debian's chromium for the console's browser test
# (skydns-kubeapi/console), as scripts/kube-apiserver/build.sh builds the
# kube-apiserver for the Kubernetes tests: `make test` runs it, so the
# browser test never has a reason to skip. Needs root and the Debian package
# registry, as CI has; elsewhere it says what to run.
set -eu
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "chromium is missing: run as root: apt-get update && apt-get install -y chromium" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends chromium >&2
