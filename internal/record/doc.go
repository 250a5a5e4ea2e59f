// Package record is the SkyDNS record model: the JSON value stored under an
// etcd key, the inference of its DNS type, validation of names and
// addresses, and the mapping between DNS owner names and etcd keys.
//
// The same etcd tree is written by several tools that never agreed on a
// format (the original skydns API and its kubeapi bridge, ExternalDNS,
// people following the CoreDNS etcd plugin documentation, and SkyDNS
// itself). Everything here is written so that data from all of them is read
// as it stands; see docs/data-model.md for the contract.
package record
