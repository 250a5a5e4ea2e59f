package record

import (
	"fmt"
	"slices"
	"strings"
)

// Rule says which names a stored record serves: the name of its key
// (ParseKeyPath) and, for a record stored at that name's own path, the
// name's parent too, so that leaves of one's own choosing below a name
// (www/ttggxuxp, big/1 ... big/100, a kube service's x1/ x2/ x3/) give
// that name several records, as the original skydns and CoreDNS answer
// them. The full rule and its reasons are in docs/data-model.md ("Which
// names a record serves"); every reader of the records builds one Rule
// from the zones it serves and uses it for every key, so that they all
// agree.
//
// A record never climbs onto a zone apex, nor out of the most specific
// zone of its name, nor onto anything from a CNAME or a wildcard.
type Rule struct {
	prefix string
	// zones are the served zones' paths below the prefix ("local/skydns"),
	// the most specific first; nil with anyZone.
	zones   []ruleZone
	anyZone bool
	descend bool // some zone descends
}

type ruleZone struct {
	path    string
	descend bool // every ancestor below the apex owns the record (CoreDNS)
}

// NewRule returns the rule of a reader that serves zones under prefix.
// Records of a zone listed in descend, with an id or not, also serve every
// ancestor of their name below the zone's apex, as CoreDNS's etcd plugin
// answers; descend
// entries that are not in zones are ignored. zones nil means the reader
// does not know the zones (the scheduler): then every such record serves
// its parent too, whatever that is.
func NewRule(prefix string, zones, descend []string) Rule {
	ru := Rule{prefix: strings.TrimRight(prefix, "/"), anyZone: zones == nil}
	deep := map[string]bool{}
	for _, z := range descend {
		deep[zonePath(z)] = true
	}
	for _, z := range zones {
		p := zonePath(z)
		if slices.ContainsFunc(ru.zones, func(o ruleZone) bool { return o.path == p }) {
			continue
		}
		ru.zones = append(ru.zones, ruleZone{path: p, descend: deep[p]})
		ru.descend = ru.descend || deep[p]
	}
	// Longest path first: the first zone that holds a path is its zone.
	slices.SortStableFunc(ru.zones, func(a, b ruleZone) int { return len(b.path) - len(a.path) })
	return ru
}

// zonePath is the path of a zone below the prefix, lower case: "" for the root.
func zonePath(zone string) string {
	return strings.TrimPrefix(NamePath("", strings.ToLower(zone)), "/")
}

// Prefix is the records root the rule reads keys under, without a trailing slash.
func (ru Rule) Prefix() string { return ru.prefix }

// KeyPaths is ParseKeyPath plus up, the number of the name's ancestors
// that the record serves as well: 0, 1, or more in a descend zone. The
// i-th of them is path with its last i segments cut (ParentPath). Like
// ParseKeyPath it does not allocate unless it fails.
func (ru Rule) KeyPaths(key string, r Record) (path, id string, up int, err error) {
	path, id, err = ParseKeyPath(ru.prefix, key, r)
	if err != nil {
		return path, id, 0, err
	}
	return path, id, ru.up(path, id != "", r), nil
}

// up counts the ancestors of the name at path (below the prefix) that
// also own its record; withID says the key has an id below the name.
func (ru Rule) up(path string, withID bool, r Record) int {
	if withID && !ru.descend {
		return 0 // nearly every key of a large zone: decided at once
	}
	// A CNAME is its name's only record: the original API kept it at the
	// name's own path, and it must never become a record of the parent.
	// A wildcard's records are for the names below its parent, not for
	// the parent itself.
	if kind(r) == TypeCNAME || path == "*" || strings.HasSuffix(path, "/*") {
		return 0
	}
	depth := strings.Count(path, "/") + 1 // segments; ancestors are depth-1
	if ru.anyZone {
		return min(1, depth-1)
	}
	for _, z := range ru.zones {
		below, ok := segmentsBelow(path, z.path)
		if !ok {
			continue
		}
		// The ancestors strictly between the name and the apex.
		n := below - 1
		if n <= 0 {
			return 0
		}
		switch {
		case z.descend:
			return n // every record, with an id or not, as CoreDNS
		case withID:
			return 0
		default:
			return 1
		}
	}
	return 0 // outside every zone: the reader does not serve it
}

// segmentsBelow reports whether path is zone or lies below it, and how
// many segments it has below it. Case is folded, as ParseKey folds it.
func segmentsBelow(path, zone string) (int, bool) {
	if zone == "" {
		return strings.Count(path, "/") + 1, true
	}
	if len(path) < len(zone) || !strings.EqualFold(path[:len(zone)], zone) {
		return 0, false
	}
	if len(path) == len(zone) {
		return 0, true
	}
	if path[len(zone)] != '/' {
		return 0, false
	}
	return strings.Count(path[len(zone):], "/"), true
}

// ParentPath cuts the last segment off a path as KeyPaths returns it.
func ParentPath(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	return ""
}

// Owners returns every name the record at key serves, its own name first,
// then its parent (and, in a descend zone, the further ancestors, nearest
// first), and the record's id under its own name as ParseKey returns it.
func (ru Rule) Owners(key string, r Record) (names []string, id string, err error) {
	path, id, up, err := ru.KeyPaths(key, r)
	if err != nil {
		return nil, "", err
	}
	names = make([]string, 0, 1+up)
	for i := 0; i <= up; i++ {
		name, err := NameFromPath(path)
		if err != nil {
			return nil, "", fmt.Errorf("record: key %q: %w", key, err)
		}
		names = append(names, name)
		path = ParentPath(path)
	}
	return names, asciiLower(id), nil
}
