// Package e2e holds the end-to-end tests: they build the real binaries and
// run them as an operator would, against a real etcd.
package e2e
