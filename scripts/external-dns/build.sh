#!/bin/sh
# Builds ExternalDNS, pinned by this directory's go.mod, and prints the
# binary's path; cached outside the clone (scripts/lib/build-cached.sh).
cd "$(dirname "$0")" && exec ../lib/build-cached.sh external-dns sigs.k8s.io/external-dns sigs.k8s.io/external-dns
