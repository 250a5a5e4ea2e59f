package record

import (
	"math"
	"net/netip"
	"unsafe"
)

// Addr is what the DNS server keeps of an A or AAAA record.
type Addr struct {
	IP                     netip.Addr
	TTL                    uint32
	Port, Priority, Weight uint16
	TargetStrip            int
}

// DecodeAddr decodes value when it is an address record (type A or AAAA,
// explicit or inferred from an IP host) without allocating. It exists for
// the bulk load, where Decode's encoding/json costs far more than the
// records are worth.
//
// ok is false when value is anything else, and also whenever the scanner
// cannot be certain of giving Decode's answer: a key or a host or type
// string with escapes, a key with non-ASCII bytes (encoding/json folds
// some of those onto ASCII names), a known key given twice, a number
// field that is negative or has a fraction or exponent, nesting deeper
// than 64 levels, or invalid JSON. The caller then uses Decode.
//
// When ok is true the result is what Decode gives: Decode(value) succeeds
// with r.IP() == a.IP, and TTL, Port, Priority, Weight and TargetStrip
// equal. DecodeAddr does not keep value or anything that points into it.
func DecodeAddr(value []byte) (a Addr, ok bool) {
	b := value
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return Addr{}, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		// {} has no host.
		return Addr{}, false
	}

	var (
		seen uint16
		host []byte
		typ  Type // "", TypeA or TypeAAAA
	)
	for {
		if i >= len(b) || b[i] != '"' {
			return Addr{}, false
		}
		end, flags, valid := scanString(b, i+1)
		if !valid || flags != 0 {
			// An escaped or non-ASCII key may name a known field.
			return Addr{}, false
		}
		f := lookupField(b[i+1 : end-1])
		if f >= 0 {
			if seen&(1<<f) != 0 {
				return Addr{}, false
			}
			seen |= 1 << f
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return Addr{}, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return Addr{}, false
		}

		switch f {
		case fieldHost, fieldType:
			if isNull(b, i) {
				i += len("null")
				break
			}
			if b[i] != '"' {
				return Addr{}, false
			}
			end, flags, valid := scanString(b, i+1)
			if !valid || flags&hasEscape != 0 {
				return Addr{}, false
			}
			s := b[i+1 : end-1]
			i = end
			if f == fieldHost {
				host = s
				break
			}
			switch {
			case len(s) == 0:
				// An empty type is no type: Decode infers it.
			case equalFoldUpper(bytesString(s), string(TypeA)):
				typ = TypeA
			case equalFoldUpper(bytesString(s), string(TypeAAAA)):
				typ = TypeAAAA
			default:
				return Addr{}, false
			}
		case fieldText, fieldGroup, fieldSource, fieldCluster, fieldUser:
			// None of these changes an address record: the host wins
			// over text when the type is inferred.
			if isNull(b, i) {
				i += len("null")
				break
			}
			if b[i] != '"' {
				return Addr{}, false
			}
			end, _, valid := scanString(b, i+1)
			if !valid {
				return Addr{}, false
			}
			i = end
		case fieldSite:
			// Addr has no site: Decode keeps it.
			return Addr{}, false
		case fieldMail:
			// mail only turns a name host into MX; an IP host stays an
			// address record either way.
			switch {
			case hasLiteral(b, i, "true"):
				i += len("true")
			case hasLiteral(b, i, "false"):
				i += len("false")
			case isNull(b, i):
				i += len("null")
			default:
				return Addr{}, false
			}
		case fieldPort, fieldPriority, fieldWeight, fieldTTL, fieldTargetStrip:
			if isNull(b, i) {
				i += len("null")
				break
			}
			limit := uint64(maxUint16)
			switch f {
			case fieldTTL:
				limit = math.MaxUint32
			case fieldTargetStrip:
				limit = math.MaxInt
			}
			v, end, valid := scanUint(b, i, limit)
			if !valid {
				return Addr{}, false
			}
			i = end
			switch f {
			case fieldPort:
				a.Port = uint16(v)
			case fieldPriority:
				a.Priority = uint16(v)
			case fieldWeight:
				a.Weight = uint16(v)
			case fieldTTL:
				a.TTL = uint32(v)
			case fieldTargetStrip:
				a.TargetStrip = int(v)
			}
		default:
			end, valid := skipValue(b, i)
			if !valid {
				return Addr{}, false
			}
			i = end
		}

		i = skipSpace(b, i)
		if i >= len(b) {
			return Addr{}, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return Addr{}, false
		}
		i = skipSpace(b, i+1)
	}
	if skipSpace(b, i) != len(b) {
		return Addr{}, false
	}

	ip, valid := hostIP(host)
	if !valid {
		return Addr{}, false
	}
	switch typ {
	case TypeA:
		valid = ip.Is4()
	case TypeAAAA:
		valid = !ip.Is4()
	}
	if !valid {
		return Addr{}, false
	}
	a.IP = ip
	return a, true
}

// hostIP parses host the way Decode does, without allocating: parseIP
// itself, on a string that shares host's bytes. Zones are refused before
// netip sees them because it would intern the zone.
func hostIP(host []byte) (netip.Addr, bool) {
	if len(host) == 0 {
		return netip.Addr{}, false
	}
	for _, c := range host {
		if c == '%' {
			return netip.Addr{}, false
		}
	}
	return parseIP(bytesString(host))
}

// bytesString views b as a string. The string must not outlive the call
// it is passed to, since value belongs to the caller.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// The fields of Record, as bit positions for duplicate detection.
const (
	fieldHost = iota
	fieldPort
	fieldPriority
	fieldWeight
	fieldText
	fieldMail
	fieldTTL
	fieldTargetStrip
	fieldGroup
	fieldType
	fieldSource
	fieldCluster
	fieldUser
	fieldSite
)

// lookupField returns the field key names, or -1 for a key Decode
// ignores. key must be ASCII; it is matched without regard to ASCII case,
// as encoding/json does (all of Record's names are distinct lower-case
// ASCII, so its exact-match-first rule gives the same answer).
func lookupField(key []byte) int {
	var name string
	var f int
	switch len(key) {
	case 3:
		name, f = "ttl", fieldTTL
	case 4:
		switch key[0] | 0x20 {
		case 'h':
			name, f = "host", fieldHost
		case 'p':
			name, f = "port", fieldPort
		case 'm':
			name, f = "mail", fieldMail
		case 'u':
			name, f = "user", fieldUser
		case 's':
			name, f = "site", fieldSite
		case 't':
			name, f = "text", fieldText
			if key[1]|0x20 == 'y' {
				name, f = "type", fieldType
			}
		default:
			return -1
		}
	case 5:
		name, f = "group", fieldGroup
	case 6:
		name, f = "weight", fieldWeight
		if key[0]|0x20 == 's' {
			name, f = "source", fieldSource
		}
	case 7:
		name, f = "cluster", fieldCluster
	case 8:
		name, f = "priority", fieldPriority
	case 11:
		name, f = "targetstrip", fieldTargetStrip
	default:
		return -1
	}
	for i := 0; i < len(name); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return -1
		}
	}
	return f
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

func isNull(b []byte, i int) bool { return hasLiteral(b, i, "null") }

// What scanString saw in a string besides plain ASCII.
const (
	hasEscape   = 1 << iota // a backslash escape
	hasNonASCII             // a byte >= 0x80 (not checked for valid UTF-8)
)

// scanString checks the JSON string whose body starts at b[i], just after
// the opening quote, and returns the index after the closing quote.
func scanString(b []byte, i int) (end int, flags uint8, ok bool) {
	for i < len(b) {
		c := b[i]
		if plainStringByte[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, flags, true
		case c < 0x20:
			return 0, 0, false
		case c == '\\':
			flags |= hasEscape
			i++
			if i >= len(b) {
				return 0, 0, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(b)-i < 5 {
					return 0, 0, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHexDigit(h) {
						return 0, 0, false
					}
				}
				i += 5
			default:
				return 0, 0, false
			}
		case c >= 0x80:
			flags |= hasNonASCII
			i++
		default:
			i++
		}
	}
	return 0, 0, false
}

// plainStringByte holds the bytes a JSON string may contain as they are
// and that need no further thought: printable ASCII but '"' and '\\'.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanUint reads, at b[i], a JSON number that is a non-negative integer
// no greater than limit, and returns it and the index after it. Anything
// else, valid JSON or not, is refused: Decode rejects fractions, exponents
// and out-of-range values for these fields, and a negative value only ever
// fails its range check (except "-0", which is left to Decode).
func scanUint(b []byte, i int, limit uint64) (v uint64, end int, ok bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		for i < len(b) && isDigit(b[i]) {
			d := uint64(b[i] - '0')
			if v > (limit-d)/10 {
				return 0, 0, false
			}
			v = v*10 + d
			i++
		}
	default:
		return 0, 0, false
	}
	if i < len(b) {
		switch b[i] {
		case '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return 0, 0, false
		}
	}
	return v, i, true
}

// scanNumber checks the JSON number at b[i] and returns the index after it.
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// maxSkipDepth bounds the nesting skipValue follows; one bit per level
// records whether it is an object or an array. encoding/json allows far
// deeper nesting, so deeper values are merely left to Decode.
const maxSkipDepth = 64

// skipValue checks the JSON value at b[i] (an unknown field's, which may
// be anything) and returns the index after it.
func skipValue(b []byte, i int) (int, bool) {
	var (
		objects uint64 // bit d set: level d+1 is an object
		depth   int
		ok      bool
	)
	for {
		// At the start of a value.
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		closed := true // whether a whole value has just been read
		switch c := b[i]; {
		case c == '"':
			if i, _, ok = scanString(b, i+1); !ok {
				return 0, false
			}
		case c == '{' || c == '[':
			if depth == maxSkipDepth {
				return 0, false
			}
			objects = objects<<1 | uint64(btoi(c == '{'))
			depth++
			i = skipSpace(b, i+1)
			switch {
			case i >= len(b):
				return 0, false
			case c == '{' && b[i] == '}', c == '[' && b[i] == ']':
				i++
				objects >>= 1
				depth--
			case c == '{':
				if i, ok = skipKey(b, i); !ok {
					return 0, false
				}
				closed = false
			default:
				closed = false
			}
		case c == 't':
			if !hasLiteral(b, i, "true") {
				return 0, false
			}
			i += len("true")
		case c == 'f':
			if !hasLiteral(b, i, "false") {
				return 0, false
			}
			i += len("false")
		case c == 'n':
			if !isNull(b, i) {
				return 0, false
			}
			i += len("null")
		case c == '-' || isDigit(c):
			if i, ok = scanNumber(b, i); !ok {
				return 0, false
			}
		default:
			return 0, false
		}
		if !closed {
			continue
		}
		// After a value: close containers until one wants another value.
		for {
			if depth == 0 {
				return i, true
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, false
			}
			inObject := objects&1 == 1
			if b[i] == ',' {
				i++
				if inObject {
					if i, ok = skipKey(b, skipSpace(b, i)); !ok {
						return 0, false
					}
				}
				break
			}
			if inObject && b[i] == '}' || !inObject && b[i] == ']' {
				i++
				objects >>= 1
				depth--
				continue
			}
			return 0, false
		}
	}
}

// skipKey checks an object key and its colon at b[i] and returns the index
// after the colon.
func skipKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, _, ok := scanString(b, i+1)
	if !ok {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	return i + 1, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
