package zone

import "github.com/skydns/skydns/internal/record"

// builder assembles a zone from a full load. A range read returns a name's
// keys next to each other (they share its path), so it collects one name
// at a time in scratch space, builds the name's string once, and allocates
// each slice once at its final size: with millions of records, per-key
// garbage would be most of the work.
//
// A record may serve its name's ancestors too (record.Rule), whose keys
// also come in a row (they share the ancestor's path): so a few names are
// open at once, the current key's and the ancestors it feeds, each
// collected until a key arrives that does not feed it.
type builder struct {
	h     recordsHandler
	names map[string]*Node
	ents  map[string]int32
	ptr   ptrIndex
	open  []*collecting // nearly always one
	spare []*collecting
}

// collecting is the scratch space of one name being collected.
type collecting struct {
	path  string
	addrs []Addr
	other []Entry
}

func newBuilder(h recordsHandler) *builder {
	return &builder{h: h, names: make(map[string]*Node), ents: make(map[string]int32), ptr: newPtrIndex()}
}

// add collects a record of the name at path and of up of its ancestors.
func (b *builder) add(path string, up int, a *Addr, e *Entry) {
	kept := b.open[:0]
	for _, c := range b.open {
		if feeds(path, up, c.path) {
			kept = append(kept, c)
		} else {
			b.flush(c)
			b.spare = append(b.spare, c)
		}
	}
	b.open = kept
	for ; up >= 0; up, path = up-1, record.ParentPath(path) {
		c := b.collector(path)
		if a != nil {
			c.addrs = append(c.addrs, *a)
		} else {
			c.other = append(c.other, *e)
		}
	}
}

// feeds reports whether a record of the name at path, serving up of its
// ancestors, belongs to the name at other.
func feeds(path string, up int, other string) bool {
	for ; up >= 0; up, path = up-1, record.ParentPath(path) {
		if path == other {
			return true
		}
	}
	return false
}

// collector returns the open collector of path, opening one if needed.
func (b *builder) collector(path string) *collecting {
	for _, c := range b.open {
		if c.path == path {
			return c
		}
	}
	var c *collecting
	if n := len(b.spare); n > 0 {
		c, b.spare = b.spare[n-1], b.spare[:n-1]
	} else {
		c = &collecting{}
	}
	c.path = path
	b.open = append(b.open, c)
	return c
}

func (b *builder) flush(c *collecting) {
	defer func() { c.addrs, c.other, c.path = c.addrs[:0], c.other[:0], "" }()
	name := b.h.name(c.path, false)
	if name == "" {
		return
	}
	n := b.names[name]
	if n == nil {
		n = &Node{Name: name}
		b.names[name] = n
		b.h.z.forAncestors(name, func(a string) { b.ents[a]++ })
	}
	// A name seen again after others (a child's keys sorted between its
	// own) merges; the common case copies once.
	if len(c.addrs) > 0 {
		all := make([]Addr, 0, len(n.Addrs)+len(c.addrs))
		all = append(append(all, n.Addrs...), c.addrs...)
		sortAddrs(all)
		markDups(all)
		old := n.Addrs
		n.Addrs = all
		for i, a := range all {
			// Sorted: a name holding an IP twice shows it twice in a row.
			if (i == 0 || a.ip != all[i-1].ip) && !hasIP(old, a.ip) {
				b.ptr.addNew(a.ip, name)
			}
		}
	}
	if len(c.other) > 0 {
		all := make([]Entry, 0, len(n.Other)+len(c.other))
		all = append(append(all, n.Other...), c.other...)
		sortOther(all)
		n.Other = all
	}
}

// finish returns the names, the empty non-terminals and the PTR index.
func (b *builder) finish() (map[string]*Node, map[string]int32, ptrIndex) {
	for _, c := range b.open {
		b.flush(c)
	}
	b.open = nil
	return b.names, b.ents, b.ptr
}
