// Package chaos is SkyDNS's fault-injection suite: a real 3-member etcd
// cluster on loopback (each member a separate process, reached through
// proxies the suite can cut), the whole stack of real binaries against it,
// load over DNS and the API, and faults injected on a seeded schedule,
// with the invariants of docs/reliability.md checked against logs of every
// query, write and fault. `make chaos` runs the full suite; a short run is
// part of `make test`.
package chaos
