// Package rendezvous holds the fixed hash functions of SkyDNS's
// rendezvous (highest random weight) choices: the DNS server's hold-one
// (client → address) and the scheduler's assignment (target → agents).
// Nothing is seeded, so every replica, every leader and every restart
// computes the same choice; changing these functions moves every client
// and every target once, so they do not change.
package rendezvous

// Offset is the FNV-1a 64-bit offset basis, the start value for FNV64a.
const Offset uint64 = 14695981039346656037

// FNV64a continues an FNV-1a 64-bit hash over b. Written out because
// hash/fnv's interface value escapes to the heap on the DNS query path.
func FNV64a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// Mix is the splitmix64 finaliser: FNV alone spreads neighbouring inputs
// (adjacent IPs) poorly.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
