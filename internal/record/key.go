package record

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the etcd directory all writers use unless configured
// otherwise.
const DefaultPrefix = "/skydns"

// NamePath returns the etcd path of name: prefix followed by the labels of
// name reversed, so that everything under a zone shares one key prefix.
// name need not be normalized; it is lower-cased and its root dot dropped,
// but it is not validated.
func NamePath(prefix, name string) string {
	p := strings.TrimRight(prefix, "/")
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + 1 + len(n))
	b.WriteString(p)
	end := len(n)
	for {
		i := strings.LastIndexByte(n[:end], '.')
		b.WriteByte('/')
		for j := i + 1; j < end; j++ {
			b.WriteByte(lowerASCII(n[j]))
		}
		if i < 0 {
			break
		}
		end = i
	}
	return b.String()
}

// Key returns the key of the record of name with the given id, or the
// name's own path when id is empty.
func Key(prefix, name, id string) string {
	path := NamePath(prefix, name)
	if id == "" {
		return path
	}
	return path + "/" + id
}

// PrefixOf returns the key prefix under which every record below zone is
// stored, for range reads and watches. The trailing slash keeps sibling
// zones such as "xskydns.local." out. It does not cover a record stored at
// the zone's own path without a trailing slash (the apex written without an
// id); read NamePath(prefix, zone) for that.
func PrefixOf(prefix, zone string) string {
	return NamePath(prefix, zone) + "/"
}

// ParseKey returns the owner name a stored key serves and the id of the
// record under that name ("" when the key is the name's own path). The
// value r is needed because whether the last segment is an id depends on
// who wrote it, which only the value betrays; the rule is documented in
// docs/data-model.md and must not change without migrating every writer.
//
// The returned id is lower-cased like every other segment, so it can
// differ from the key's leaf in case; keep the key itself to delete.
func ParseKey(prefix, key string, r Record) (name, id string, err error) {
	path, id, err := ParseKeyPath(prefix, key, r)
	if err != nil {
		return "", "", err
	}
	name, err = NameFromPath(path)
	if err != nil {
		return "", "", fmt.Errorf("record: key %q: %w", key, err)
	}
	return name, asciiLower(id), nil
}

// ParseKeyPath is ParseKey without building the name: it returns the
// part of key that is the name's path below the prefix ("local/skydns/www")
// and the id as written, both slices of key. It does not allocate unless it
// fails, so a loader can build each name once for the several keys of it
// that arrive in a row.
func ParseKeyPath(prefix, key string, r Record) (path, id string, err error) {
	p := strings.TrimRight(prefix, "/")
	if len(key) <= len(p) || key[:len(p)] != p || key[len(p)] != '/' {
		return "", "", fmt.Errorf("record: key %q is not under prefix %q", key, p+"/")
	}
	rest := key[len(p)+1:]
	// The original skydns wrote directory-style keys ending in "/".
	slash := strings.HasSuffix(rest, "/")
	if slash {
		rest = rest[:len(rest)-1]
	}
	if rest == "" {
		return "", "", fmt.Errorf("record: key %q has no name after the prefix", key)
	}
	if rest[0] == '/' || rest[len(rest)-1] == '/' || strings.Contains(rest, "//") {
		return "", "", fmt.Errorf("record: key %q has an empty segment", key)
	}

	path = rest
	last := strings.LastIndexByte(rest, '/')
	switch {
	case r.TargetStrip > 0:
		// ExternalDNS states outright how many leaf segments are its own.
		cut := len(rest)
		for n := 0; n < r.TargetStrip; n++ {
			cut = strings.LastIndexByte(rest[:cut], '/')
			if cut < 0 {
				return "", "", fmt.Errorf("record: key %q: targetstrip %d leaves no name", key, r.TargetStrip)
			}
		}
		path, id = rest[:cut], rest[cut+1:]
	case slash:
		// The original API wrote unpadded FNV ids, so any short hex leaf
		// is an id, except that it kept CNAMEs at the name's own path.
		if last >= 0 && isHex(rest[last+1:], 1, 8) && kind(r) != TypeCNAME {
			path, id = rest[:last], rest[last+1:]
		}
	default:
		if last >= 0 && isHex(rest[last+1:], 8, 8) {
			path, id = rest[:last], rest[last+1:]
		}
	}
	if len(path) > maxNameLen {
		return "", "", fmt.Errorf("record: key %q: name longer than %d characters", key, maxNameLen)
	}
	if strings.Contains(path, ".") {
		// A dot inside a segment would make a name whose path is some
		// other key, so lookups by name could never find it.
		return "", "", fmt.Errorf("record: key %q: a name segment contains a dot", key)
	}
	return path, id, nil
}

// NameFromPath turns a name's path below the prefix, as ParseKeyPath
// returns it, into the lower-case, fully qualified name, and checks it.
func NameFromPath(path string) (string, error) {
	name := reverseSegments(path)
	if _, reason := checkName(name); reason != "" {
		return "", fmt.Errorf("name %q: %s", name, reason)
	}
	return name, nil
}

// reverseSegments turns "local/skydns/www" into "www.skydns.local.",
// lower-casing as it copies.
func reverseSegments(path string) string {
	var b strings.Builder
	b.Grow(len(path) + 1)
	end := len(path)
	for {
		i := strings.LastIndexByte(path[:end], '/')
		for j := i + 1; j < end; j++ {
			b.WriteByte(lowerASCII(path[j]))
		}
		b.WriteByte('.')
		if i < 0 {
			break
		}
		end = i
	}
	return b.String()
}

// isHex reports whether s is lo to hi hex digits of either case; case is
// folded because ParseKey lower-cases segments before judging them.
func isHex(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
