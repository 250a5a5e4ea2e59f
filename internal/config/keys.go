package config

import (
	"reflect"
)

// KeyDoc describes one key for documentation.
type KeyDoc struct {
	Section string
	Key     string
	// Aliases are old names also accepted: a bare name is in the same
	// section, "Section.key" is in another one.
	Aliases []string
	// Type is string, bool, integer, number, duration or list.
	Type string
	// Sep holds the characters that split a list; any one of them does.
	Sep     string
	Default string
	// Unit is "s" or "ms" for durations whose bare numbers are read in that
	// unit, else empty.
	Unit string
	Help string
}

// Keys lists the keys of a config struct (or pointer to one) in declaration
// order. It panics if the struct's tags are malformed, which the tests of
// this package rule out for the program structs.
func Keys(v any) []KeyDoc {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		panic("config.Keys: not a struct")
	}
	s, err := schemaFor(t)
	if err != nil {
		panic(err)
	}
	docs := make([]KeyDoc, 0, len(s.fields))
	for _, f := range s.fields {
		d := KeyDoc{
			Section: f.section,
			Key:     f.key,
			Aliases: append([]string(nil), f.aliases...),
			Type:    f.typeName(),
			Default: f.def,
			Unit:    f.unitName,
			Help:    f.help,
		}
		for _, x := range f.xaliases {
			d.Aliases = append(d.Aliases, x.name())
		}
		if f.kind == kindList {
			d.Sep = f.sep
		}
		docs = append(docs, d)
	}
	return docs
}
