package forward

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	// maxShards bounds the number of independently locked parts of the
	// cache: enough that CPUs rarely contend on a lock held for a map
	// lookup.
	maxShards = 16
	// minShardSize keeps each part big enough for CLOCK to tell entries in
	// use from the rest; a small cache is a single part.
	minShardSize = 128
)

// settle prepares an upstream answer for sharing and caching: the OPT
// record goes (each caller gets its own), the question is the lower-case
// one of the key, TTLs are capped at maxTTL, and in a negative answer the
// SOA's TTL becomes the negative TTL of RFC 2308 §5, min(TTL, MINIMUM).
func settle(r *dns.Msg, k key, maxTTL uint32) {
	extra := r.Extra[:0]
	for _, rr := range r.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	clear(r.Extra[len(extra):])
	r.Extra = extra
	r.Question = []dns.Question{{Name: k.name, Qtype: k.qtype, Qclass: k.qclass}}

	negative := r.Rcode == dns.RcodeNameError || (r.Rcode == dns.RcodeSuccess && len(r.Answer) == 0)
	for _, section := range [][]dns.RR{r.Answer, r.Ns, r.Extra} {
		for _, rr := range section {
			h := rr.Header()
			h.Ttl = min(h.Ttl, maxTTL)
			if soa, ok := rr.(*dns.SOA); ok && negative {
				h.Ttl = min(h.Ttl, soa.Minttl)
			}
		}
	}
}

// cacheTTL is how long the settled answer r may be served from the cache,
// in seconds; 0 means it must not be cached.
func cacheTTL(r *dns.Msg) uint32 {
	if r.Truncated {
		return 0
	}
	switch {
	case r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0:
	case r.Rcode == dns.RcodeNameError || r.Rcode == dns.RcodeSuccess:
		// NXDOMAIN or NODATA: RFC 2308 §5 caches them only with the SOA
		// that gives their lifetime. Without one (a referral, a lame
		// server) there is nothing to go by.
		hasSOA := false
		for _, rr := range r.Ns {
			if rr.Header().Rrtype == dns.TypeSOA {
				hasSOA = true
				break
			}
		}
		if !hasSOA {
			return 0
		}
	default:
		return 0
	}
	// Every record handed out must still be valid, so the entry lives as
	// long as the shortest-lived record; settle already folded the SOA
	// MINIMUM into the SOA's TTL.
	ttl := ^uint32(0)
	for _, section := range [][]dns.RR{r.Answer, r.Ns} {
		for _, rr := range section {
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	return ttl
}

// entry is one cached answer. Everything but ref is immutable once the
// entry is in the cache, so readers use it without the lock.
type entry struct {
	key     key
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
	// ref is the CLOCK reference bit: set by a hit, cleared by the hand.
	ref  atomic.Bool
	slot int // index in shard.slots; guarded by the shard's lock
}

// elapsed is the whole seconds spent in the cache at now, by which the
// TTLs handed out are lowered.
func (e *entry) elapsed(now time.Time) uint32 {
	d := now.Sub(e.stored)
	if d < 0 {
		return 0
	}
	return uint32(d / time.Second)
}

// cache is a fixed-size map of answers split in shards, each with its own
// lock and its own CLOCK (second chance) eviction: the slots form a ring,
// and to make room the hand moves round it, taking the first entry that is
// expired or has not been hit since the hand last passed, and clearing the
// reference bit of those that have. New entries start unreferenced, so a
// burst of names asked once evicts each other before an entry in use.
type cache struct {
	seed    maphash.Seed
	shards  []shard
	count   atomic.Int64
	entries prometheus.Gauge
	closed  atomic.Bool
}

type shard struct {
	mu    sync.RWMutex
	index map[key]*entry
	slots []*entry // the CLOCK ring; grows to max, then entries are replaced
	max   int
	hand  int
}

func newCache(size int, entries prometheus.Gauge) *cache {
	n := max(1, min(maxShards, size/minShardSize))
	c := &cache{seed: maphash.MakeSeed(), shards: make([]shard, n), entries: entries}
	for i := range c.shards {
		// The shares add up to size exactly, so the bound is global.
		max := size / n
		if i < size%n {
			max++
		}
		c.shards[i] = shard{index: map[key]*entry{}, max: max}
	}
	return c
}

func (c *cache) shard(k key) *shard {
	return &c.shards[maphash.String(c.seed, k.name)%uint64(len(c.shards))]
}

// get returns the live entry for k at now, or nil.
func (c *cache) get(k key, now time.Time) *entry {
	s := c.shard(k)
	s.mu.RLock()
	e := s.index[k]
	s.mu.RUnlock()
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	// Only store when it changes: a hot entry is then only read, and its
	// cache line is not bounced between CPUs.
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e
}

// put caches msg under k for ttl seconds from now, replacing any entry
// for k, else taking a free slot, else evicting one.
func (c *cache) put(k key, msg *dns.Msg, now time.Time, ttl uint32) {
	e := &entry{key: k, msg: msg, stored: now, expires: now.Add(time.Duration(ttl) * time.Second)}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.closed.Load() {
		return
	}
	if old, ok := s.index[k]; ok {
		e.slot = old.slot
	} else if len(s.slots) < s.max {
		e.slot = len(s.slots)
		s.slots = append(s.slots, nil)
		c.count.Add(1)
		c.entries.Inc()
	} else {
		e.slot = s.victim(now)
		delete(s.index, s.slots[e.slot].key)
	}
	s.slots[e.slot] = e
	s.index[k] = e
}

// victim moves the hand to the slot to reuse. Two turns at most: after
// one, every reference bit is clear.
func (s *shard) victim(now time.Time) int {
	for range 2 * len(s.slots) {
		i := s.hand
		s.hand = (s.hand + 1) % len(s.slots)
		e := s.slots[i]
		if !now.Before(e.expires) {
			return i
		}
		if e.ref.Load() {
			e.ref.Store(false)
			continue
		}
		return i
	}
	return s.hand
}

// purge empties the cache for good: puts after it are dropped.
func (c *cache) purge() {
	c.closed.Store(true)
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n := len(s.slots)
		clear(s.index)
		s.slots, s.hand = nil, 0
		s.mu.Unlock()
		c.count.Add(-int64(n))
		c.entries.Sub(float64(n))
	}
}

// len is the number of entries, live or expired but not yet evicted.
func (c *cache) len() int { return int(c.count.Load()) }
