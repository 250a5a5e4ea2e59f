package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindUint
	kindFloat
	kindDuration
	kindList
)

var durationType = reflect.TypeFor[time.Duration]()

// ref names a key in a section; lookups use its lower-cased form because
// operators' old files do not agree on the capitalisation of names like
// cacheSize.
type ref struct{ section, key string }

func (r ref) fold() ref { return ref{strings.ToLower(r.section), strings.ToLower(r.key)} }

type field struct {
	section  string
	key      string
	aliases  []string // old names in the same section, in order of preference
	xaliases []ref    // old names in other sections, tried after aliases
	def      string
	unit     time.Duration
	unitName string
	sep      string
	help     string
	index    []int
	kind     kind
	typ      reflect.Type
}

// name is how a key is written in -set and in KeyDoc.Aliases.
func (r ref) name() string { return r.section + "." + r.key }

type schema struct {
	fields   []*field
	sections map[string]bool // folded names, including those only aliases use
	defined  map[string]bool // folded names of the struct's own sections
	lookup   map[ref]match   // folded (section, key) → field
}

type match struct {
	f    *field
	rank int // 0 for the key itself, higher for less preferred old names
}

var schemas sync.Map // reflect.Type → *schema

func schemaFor(t reflect.Type) (*schema, error) {
	if s, ok := schemas.Load(t); ok {
		return s.(*schema), nil
	}
	s := &schema{sections: map[string]bool{}, defined: map[string]bool{}, lookup: map[ref]match{}}
	if err := s.walkSections(t, nil); err != nil {
		return nil, fmt.Errorf("config: %v: %w", t, err)
	}
	schemas.Store(t, s)
	return s, nil
}

func (s *schema) walkSections(t reflect.Type, index []int) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, tagged := sf.Tag.Lookup("ini")
		if name == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if !tagged {
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				if err := s.walkSections(sf.Type, idx); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("field %s has no ini tag", sf.Name)
		}
		if sf.Type.Kind() != reflect.Struct {
			return fmt.Errorf("section field %s is %v, want a struct", sf.Name, sf.Type)
		}
		if s.defined[strings.ToLower(name)] {
			return fmt.Errorf("section [%s] defined twice", name)
		}
		s.defined[strings.ToLower(name)] = true
		s.sections[strings.ToLower(name)] = true
		if err := s.walkKeys(sf.Type, idx, name); err != nil {
			return err
		}
		if err := s.addSectionAliases(name, sf.Tag.Get("alias")); err != nil {
			return fmt.Errorf("section [%s]: %w", name, err)
		}
	}
	return nil
}

func (s *schema) walkKeys(t reflect.Type, index []int, section string) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, tagged := sf.Tag.Lookup("ini")
		if name == "-" {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		if !tagged {
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				if err := s.walkKeys(sf.Type, idx, section); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("[%s] field %s has no ini tag", section, sf.Name)
		}
		f, err := newField(sf, section, name, idx)
		if err != nil {
			return fmt.Errorf("[%s] %s: %w", section, name, err)
		}
		if err := s.add(ref{section, name}, match{f, 0}); err != nil {
			return err
		}
		for i, a := range f.aliases {
			if err := s.add(ref{section, a}, match{f, i + 1}); err != nil {
				return err
			}
		}
		s.fields = append(s.fields, f)
	}
	return nil
}

func (s *schema) add(r ref, m match) error {
	if _, dup := s.lookup[r.fold()]; dup {
		return fmt.Errorf("[%s] %s used twice", r.section, r.key)
	}
	s.lookup[r.fold()] = m
	return nil
}

// addSectionAliases reads `alias:"key=Other.old,..."` from a section field.
func (s *schema) addSectionAliases(section, tag string) error {
	if tag == "" {
		return nil
	}
	for item := range strings.SplitSeq(tag, ",") {
		key, old, ok := strings.Cut(strings.TrimSpace(item), "=")
		osec, okey, ok2 := strings.Cut(old, ".")
		if !ok || !ok2 || key == "" || osec == "" || okey == "" {
			return fmt.Errorf("alias %q: want key=Section.old", item)
		}
		m, found := s.lookup[ref{section, key}.fold()]
		if !found || m.rank != 0 {
			return fmt.Errorf("alias %q: no key %s", item, key)
		}
		m.f.xaliases = append(m.f.xaliases, ref{osec, okey})
		rank := len(m.f.aliases) + len(m.f.xaliases)
		if err := s.add(ref{osec, okey}, match{m.f, rank}); err != nil {
			return err
		}
		s.sections[strings.ToLower(osec)] = true
	}
	return nil
}

func newField(sf reflect.StructField, section, name string, idx []int) (*field, error) {
	f := &field{section: section, key: name, index: idx, typ: sf.Type, help: sf.Tag.Get("help")}
	switch {
	case sf.Type == durationType:
		f.kind = kindDuration
	case sf.Type.Kind() == reflect.String:
		f.kind = kindString
	case sf.Type.Kind() == reflect.Bool:
		f.kind = kindBool
	case sf.Type.Kind() == reflect.Int, sf.Type.Kind() == reflect.Int64:
		f.kind = kindInt
	case sf.Type.Kind() == reflect.Uint32:
		f.kind = kindUint
	case sf.Type.Kind() == reflect.Float64:
		f.kind = kindFloat
	case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.String:
		f.kind = kindList
	default:
		return nil, fmt.Errorf("unsupported type %v", sf.Type)
	}
	def, ok := sf.Tag.Lookup("default")
	if !ok {
		return nil, fmt.Errorf("no default tag (write default:\"\" for an empty default)")
	}
	f.def = def
	if f.help == "" {
		return nil, fmt.Errorf("no help tag")
	}
	if a := sf.Tag.Get("alias"); a != "" {
		for item := range strings.SplitSeq(a, ",") {
			if item = strings.TrimSpace(item); item != "" {
				f.aliases = append(f.aliases, item)
			}
		}
	}
	switch u := sf.Tag.Get("unit"); u {
	case "":
	case "s":
		f.unit, f.unitName = time.Second, u
	case "ms":
		f.unit, f.unitName = time.Millisecond, u
	default:
		return nil, fmt.Errorf("unit %q: want s or ms", u)
	}
	if f.unit != 0 && f.kind != kindDuration {
		return nil, fmt.Errorf("unit on a %v", sf.Type)
	}
	f.sep = sf.Tag.Get("sep")
	if f.sep != "" && f.kind != kindList {
		return nil, fmt.Errorf("sep on a %v", sf.Type)
	}
	if f.kind == kindList && f.sep == "" {
		f.sep = ","
	}
	// A default that does not parse would only show up on a host that relies
	// on it, so refuse the struct instead.
	if f.scalar() || def != "" {
		if err := f.set(reflect.New(sf.Type).Elem(), def); err != nil {
			return nil, fmt.Errorf("default %q: %w", def, err)
		}
	}
	return f, nil
}

// scalar reports whether an empty value cannot be a value of the field's
// type, in which case an empty value in a file means "use the default".
func (f *field) scalar() bool { return f.kind != kindString && f.kind != kindList }

func (f *field) typeName() string {
	switch f.kind {
	case kindString:
		return "string"
	case kindBool:
		return "bool"
	case kindInt, kindUint:
		return "integer"
	case kindFloat:
		return "number"
	case kindDuration:
		return "duration"
	default:
		return "list"
	}
}
