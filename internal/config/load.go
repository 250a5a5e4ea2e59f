package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/ini.v1"
)

// SetSource is the file name in errors and warnings about a value that came
// from a -set override rather than from the file.
const SetSource = "-set"

// noFile is the file name in errors about a default when Load read no file.
const noFile = "(defaults)"

// FieldError is a problem with one key. Its text reads
// "skydns.conf [Dns] dns-addr: missing port".
type FieldError struct {
	// File is the base name of the file the value came from, SetSource for
	// an override, or empty in errors from a Validate method, which does not
	// know the file; Load fills it in.
	File    string
	Section string
	Key     string
	Msg     string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Section != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("[" + e.Section + "]")
	}
	if e.Key != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Load sets every key of the struct dst points to: first its default, then
// the value in the INI file at path (skipped when path is ""), then each
// override "Section.key=value" in order. It then calls dst's Validate method
// if it has one.
//
// Unknown sections and keys in the file do not fail the load, because
// operators' old files carry keys this version no longer reads; they come
// back as warnings for the daemon to log. Errors name the file, section and
// key; several problems are joined into one error.
func Load(path string, dst any, overrides []string) (warnings []string, err error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: Load needs a non-nil pointer to a struct, got %T", dst)
	}
	s, err := schemaFor(rv.Elem().Type())
	if err != nil {
		return nil, err
	}
	l := &loader{s: s, root: rv.Elem(), base: noFile, origins: map[*field]origin{}}
	if path != "" {
		l.base = filepath.Base(path)
	}
	for _, f := range s.fields {
		l.setDefault(f, origin{l.base, f.section, f.key})
	}
	if path != "" {
		if err := l.readFile(path); err != nil {
			return l.warnings, err
		}
	}
	l.applyOverrides(overrides)
	if len(l.errs) > 0 {
		return l.warnings, errors.Join(l.errs...)
	}
	if v, ok := dst.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return l.warnings, l.relocate(err)
		}
	}
	return l.warnings, nil
}

// origin is where a key's current value was written, so that a Validate
// error about [Etcd] etcd-servers can point at the [General] etcd-server
// line the operator actually wrote.
type origin struct{ file, section, key string }

type loader struct {
	s        *schema
	root     reflect.Value
	base     string
	origins  map[*field]origin
	warnings []string
	errs     []error
}

func (l *loader) warn(o origin, msg string) {
	l.warnings = append(l.warnings, (&FieldError{File: o.file, Section: o.section, Key: o.key, Msg: msg}).Error())
}

func (l *loader) setDefault(f *field, o origin) {
	v := l.root.FieldByIndex(f.index)
	v.SetZero()
	if f.def != "" {
		// Checked when the schema was built.
		_ = f.set(v, f.def)
	}
	l.origins[f] = o
}

func (l *loader) apply(f *field, o origin, raw string) {
	if raw == "" && f.scalar() {
		l.warn(o, "empty value, default "+f.def+" used")
		l.setDefault(f, o)
		return
	}
	if err := f.set(l.root.FieldByIndex(f.index), raw); err != nil {
		l.errs = append(l.errs, &FieldError{File: o.file, Section: o.section, Key: o.key, Msg: err.Error()})
		return
	}
	l.origins[f] = o
}

func (l *loader) readFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", l.base, err)
	}
	// SpaceBeforeInlineComment keeps '#' and ';' inside values such as auth
	// tokens, only " #" and " ;" start a comment; a double-quoted value is
	// taken whole, so a token may even hold " #".
	file, err := ini.LoadSources(ini.LoadOptions{
		SpaceBeforeInlineComment:  true,
		UnescapeValueDoubleQuotes: true,
	}, data)
	if err != nil {
		return fmt.Errorf("%s: %w", l.base, err)
	}
	type candidate struct {
		rank                int
		section, key, value string
	}
	found := map[*field][]candidate{}
	for _, sec := range file.Sections() {
		name := sec.Name()
		if name == ini.DefaultSection {
			for _, k := range sec.Keys() {
				l.warn(origin{l.base, "", k.Name()}, "key outside any section, ignored")
			}
			continue
		}
		if !l.s.sections[strings.ToLower(name)] {
			l.warn(origin{l.base, name, ""}, "unknown section, ignored")
			continue
		}
		for _, k := range sec.Keys() {
			m, ok := l.s.lookup[ref{name, k.Name()}.fold()]
			if !ok {
				l.warn(origin{l.base, name, k.Name()}, "unknown key, ignored")
				continue
			}
			// Value, not String: String expands %(name)s, and '%' is a list
			// separator in dns-domains.
			found[m.f] = append(found[m.f], candidate{m.rank, name, k.Name(), k.Value()})
		}
	}
	for _, f := range l.s.fields {
		cs := found[f]
		if len(cs) == 0 {
			continue
		}
		best := 0
		for i, c := range cs {
			if c.rank <= cs[best].rank {
				best = i
			}
		}
		b := cs[best]
		for i, c := range cs {
			if i != best {
				l.warn(origin{l.base, c.section, c.key}, fmt.Sprintf("ignored, [%s] %s is set", b.section, b.key))
			}
		}
		l.apply(f, origin{l.base, b.section, b.key}, b.value)
	}
	return nil
}

func (l *loader) applyOverrides(sets []string) {
	for _, s := range sets {
		name, value, ok := strings.Cut(s, "=")
		sec, key, ok2 := strings.Cut(name, ".")
		sec, key = strings.TrimSpace(sec), strings.TrimSpace(key)
		if !ok || !ok2 || sec == "" || key == "" {
			l.errs = append(l.errs, fmt.Errorf("%s %q: want Section.key=value", SetSource, s))
			continue
		}
		m, found := l.s.lookup[ref{sec, key}.fold()]
		if !found {
			msg := "unknown key"
			if !l.s.sections[strings.ToLower(sec)] {
				msg = "unknown section"
			}
			l.errs = append(l.errs, &FieldError{File: SetSource, Section: sec, Key: key, Msg: msg})
			continue
		}
		l.apply(m.f, origin{SetSource, sec, key}, strings.TrimSpace(value))
	}
}

// relocate points FieldErrors from Validate, which name the canonical
// section and key, at where the value was written.
func (l *loader) relocate(err error) error {
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range multi.Unwrap() {
			out = append(out, l.relocate(e))
		}
		return errors.Join(out...)
	}
	fe, ok := err.(*FieldError)
	if !ok {
		return fmt.Errorf("%s: %w", l.base, err)
	}
	if fe.File != "" {
		return fe
	}
	c := *fe
	c.File = l.base
	if m, found := l.s.lookup[ref{c.Section, c.Key}.fold()]; found {
		o := l.origins[m.f]
		c.File, c.Section, c.Key = o.file, o.section, o.key
	}
	return &c
}
