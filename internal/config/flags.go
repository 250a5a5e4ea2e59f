package config

import (
	"flag"
	"fmt"
	"strings"
)

// Flags holds the command-line options every daemon shares.
type Flags struct {
	// ConfigFile is the -config-file value; "" means defaults only.
	ConfigFile string
	// Sets holds each -set Section.key=value in command-line order.
	Sets []string
}

// RegisterFlags adds -config-file and the repeatable -set to fs.
func RegisterFlags(fs *flag.FlagSet, defaultPath string) *Flags {
	f := &Flags{ConfigFile: defaultPath}
	fs.StringVar(&f.ConfigFile, "config-file", defaultPath, "INI configuration `file` (empty: built-in defaults only)")
	fs.Var((*setList)(&f.Sets), "set", "override one key, as `Section.key=value`; repeatable, applied after the file")
	return f
}

// Load calls Load with the parsed flags.
func (f *Flags) Load(dst any) (warnings []string, err error) {
	return Load(f.ConfigFile, dst, f.Sets)
}

type setList []string

func (s *setList) String() string {
	if s == nil {
		return ""
	}
	return strings.Join(*s, " ")
}

// Set rejects a malformed override at parse time so the daemon prints its
// usage; Load checks the rest.
func (s *setList) Set(v string) error {
	name, _, ok := strings.Cut(v, "=")
	sec, key, ok2 := strings.Cut(name, ".")
	if !ok || !ok2 || strings.TrimSpace(sec) == "" || strings.TrimSpace(key) == "" {
		return fmt.Errorf("want Section.key=value, got %q", v)
	}
	*s = append(*s, v)
	return nil
}
