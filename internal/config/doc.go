// Package config reads the INI files of the SkyDNS daemons into typed
// structs.
//
// The structs are the single source of truth: struct tags carry each key's
// name, default, accepted old names, unit and help line, and the loader, the
// documentation (docs/configuration.md) and the sample files under conf/ are
// all checked against them by the tests, so a key cannot be added without a
// default and documentation.
//
// Tags understood on a key field:
//
//	ini:"dns-addr"           key name (ini:"-" skips the field)
//	default:"0.0.0.0:53"     required on every key; `default:""` for empty
//	alias:"old-name,other"   old key names in the same section; the key wins
//	unit:"s" or unit:"ms"    durations: a bare number is read in this unit
//	sep:"%,"                 []string: every listed character splits
//	help:"one line"          required; used for docs/configuration.md
//
// A struct field tagged ini:"Section" is a section. On it,
// alias:"key=Other.old" makes [Other] old an old name of [Section] key, for
// keys the original system kept in another section. An anonymous struct
// field without an ini tag is flattened into its parent, so shared key sets
// (Etcd, MonitorPaths) can be reused inside a program's own section.
package config
