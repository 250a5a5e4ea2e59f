package zone

// builder assembles a zone from a full load. A range read returns a name's
// keys next to each other (they share its path), so it collects one name
// at a time in scratch space, builds the name's string once, and allocates
// each slice once at its final size: with millions of records, per-key
// garbage would be most of the work.
type builder struct {
	h     recordsHandler
	names map[string]*Node
	ents  map[string]int32
	ptr   ptrIndex
	path  string // of the name being collected
	addrs []Addr
	other []Entry
}

func newBuilder(h recordsHandler) *builder {
	return &builder{h: h, names: make(map[string]*Node), ents: make(map[string]int32), ptr: newPtrIndex()}
}

func (b *builder) add(path string, a *Addr, e *Entry) {
	if path != b.path {
		b.flush()
		b.path = path
	}
	if a != nil {
		b.addrs = append(b.addrs, *a)
	} else {
		b.other = append(b.other, *e)
	}
}

func (b *builder) flush() {
	defer func() { b.addrs, b.other, b.path = b.addrs[:0], b.other[:0], "" }()
	if b.path == "" {
		return
	}
	name := b.h.name(b.path, false)
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
	if len(b.addrs) > 0 {
		all := make([]Addr, 0, len(n.Addrs)+len(b.addrs))
		all = append(append(all, n.Addrs...), b.addrs...)
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
	if len(b.other) > 0 {
		all := make([]Entry, 0, len(n.Other)+len(b.other))
		all = append(append(all, n.Other...), b.other...)
		sortOther(all)
		n.Other = all
	}
}

// finish returns the names, the empty non-terminals and the PTR index.
func (b *builder) finish() (map[string]*Node, map[string]int32, ptrIndex) {
	b.flush()
	return b.names, b.ents, b.ptr
}
