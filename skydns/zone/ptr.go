package zone

import "slices"

// ptrIndex maps each served IP to the names that hold it, for PTR queries.
// Nearly every IP belongs to one name, so that name is stored inline and
// only shared IPs get a list: a million names with three unique IPs each
// cost one 32-byte slot per IP rather than a slice and its backing array.
type ptrIndex struct {
	one  map[[16]byte]string
	more map[[16]byte][]string // every name, for IPs held by several
}

func newPtrIndex() ptrIndex {
	return ptrIndex{one: make(map[[16]byte]string), more: make(map[[16]byte][]string)}
}

func (p ptrIndex) add(ip [16]byte, name string) {
	if p.one[ip] == name || slices.Contains(p.more[ip], name) {
		return
	}
	p.addNew(ip, name)
}

// addNew adds a name the caller knows is not listed for ip yet.
func (p ptrIndex) addNew(ip [16]byte, name string) {
	first, ok := p.one[ip]
	if !ok {
		p.one[ip] = name
		return
	}
	list := p.more[ip]
	if list == nil {
		list = []string{first}
	}
	p.more[ip] = append(list, name)
}

func (p ptrIndex) remove(ip [16]byte, name string) {
	list, shared := p.more[ip]
	if !shared {
		if p.one[ip] == name {
			delete(p.one, ip)
		}
		return
	}
	list = slices.DeleteFunc(list, func(n string) bool { return n == name })
	switch len(list) {
	case 0:
		delete(p.more, ip)
		delete(p.one, ip)
	case 1:
		delete(p.more, ip)
		p.one[ip] = list[0]
	default:
		p.more[ip] = list
		p.one[ip] = list[0]
	}
}

func (p ptrIndex) names(ip [16]byte) []string {
	if list, ok := p.more[ip]; ok {
		return slices.Clone(list)
	}
	if n, ok := p.one[ip]; ok {
		return []string{n}
	}
	return nil
}
