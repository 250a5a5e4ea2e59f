#!/bin/sh
# Builds kube-apiserver, pinned by this directory's go.mod, and prints the
# binary's path; cached outside the clone (scripts/lib/build-cached.sh).
cd "$(dirname "$0")" && exec ../lib/build-cached.sh kube-apiserver k8s.io/kubernetes k8s.io/kubernetes/cmd/kube-apiserver
