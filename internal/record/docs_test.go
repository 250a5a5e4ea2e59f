package record_test

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/election"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

const dataModelDoc = "../../docs/data-model.md"

// storedValues are the Go types of every JSON value SkyDNS keeps in etcd,
// by the name of their table in docs/data-model.md (the table follows a
// line "<!-- fields: NAME -->"). A new stored value needs a line here and a
// table there.
var storedValues = map[string]reflect.Type{
	"record":    reflect.TypeFor[record.Record](),
	"policy":    reflect.TypeFor[store.StoredPolicy](), // policy.Policy plus provenance
	"status":    reflect.TypeFor[health.Status](),
	"report":    reflect.TypeFor[health.Status](),
	"heartbeat": reflect.TypeFor[monitor.Heartbeat](),
	"job":       reflect.TypeFor[monitor.Spec](),
	"verdict":   reflect.TypeFor[monitor.Verdict](),
	"override":  reflect.TypeFor[health.Override](),
	"election":  reflect.TypeFor[election.Value](),
	"site":      reflect.TypeFor[topology.Site](),
	"event":     reflect.TypeFor[events.Event](),
}

// TestDataModelDoc keeps the field tables of docs/data-model.md equal to
// the structs: every JSON field has a row whose type fits, and every row
// names a field.
func TestDataModelDoc(t *testing.T) {
	b, err := os.ReadFile(dataModelDoc)
	if err != nil {
		t.Fatal(err)
	}
	tables := fieldTables(t, string(b))
	for _, name := range slices.Sorted(maps.Keys(storedValues)) {
		typ := storedValues[name]
		rows, ok := tables[name]
		if !ok {
			t.Errorf("%s: no table marked <!-- fields: %s --> for %v", dataModelDoc, name, typ)
			continue
		}
		want := map[string]string{}
		jsonFields(typ, "", want)
		for _, field := range slices.Sorted(maps.Keys(want)) {
			jsonType := want[field]
			docType, ok := rows[field]
			switch {
			case !ok:
				t.Errorf("%s table %q: JSON field `%s` of %v has no row", dataModelDoc, name, field, typ)
			case !strings.Contains(docType, jsonType):
				t.Errorf("%s table %q: field `%s` has type %q, want one that says %q", dataModelDoc, name, field, docType, jsonType)
			}
		}
		for _, field := range slices.Sorted(maps.Keys(rows)) {
			if _, ok := want[field]; !ok {
				t.Errorf("%s table %q: row `%s` is no JSON field of %v", dataModelDoc, name, field, typ)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		if _, ok := storedValues[name]; !ok {
			t.Errorf("%s: table %q is of no stored value; add its type to storedValues", dataModelDoc, name)
		}
	}
}

var (
	tableMarker = regexp.MustCompile(`^<!-- fields: ([a-z-]+) -->$`)
	codeSpan    = regexp.MustCompile("`([^`]+)`")
)

// fieldTables returns, for each marked table, its field names (the code
// spans of the first column) and the JSON type column of each.
func fieldTables(t *testing.T, doc string) map[string]map[string]string {
	t.Helper()
	tables := map[string]map[string]string{}
	lines := strings.Split(doc, "\n")
	for i, line := range lines {
		m := tableMarker.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		name := m[1]
		if _, dup := tables[name]; dup {
			t.Errorf("%s: table %q marked twice", dataModelDoc, name)
		}
		rows := map[string]string{}
		tables[name] = rows
		// The header and the separator line, then the rows.
		body := lines[i+1:]
		if len(body) < 2 || !strings.HasPrefix(body[0], "|") || !strings.HasPrefix(body[1], "|") {
			t.Errorf("%s line %d: no table after the marker of %q", dataModelDoc, i+1, name)
			continue
		}
		for _, row := range body[2:] {
			if !strings.HasPrefix(row, "|") {
				break
			}
			cells := strings.Split(strings.Trim(row, "| "), "|")
			if len(cells) < 3 {
				t.Errorf("%s table %q: short row %q", dataModelDoc, name, row)
				continue
			}
			spans := codeSpan.FindAllStringSubmatch(cells[0], -1)
			if len(spans) == 0 {
				t.Errorf("%s table %q: row %q names no field in backticks", dataModelDoc, name, row)
			}
			for _, s := range spans {
				if _, dup := rows[s[1]]; dup {
					t.Errorf("%s table %q: field `%s` listed twice", dataModelDoc, name, s[1])
				}
				rows[s[1]] = strings.TrimSpace(cells[1])
			}
		}
	}
	return tables
}

// jsonFields adds to out every field encoding/json gives typ, as a dotted
// path for fields of nested objects, with the word the doc uses for its
// JSON type.
func jsonFields(typ reflect.Type, prefix string, out map[string]string) {
	for f := range typ.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			jsonFields(deref(f.Type), prefix, out) // promoted fields
			continue
		}
		if !f.IsExported() {
			continue
		}
		name := tag
		if name == "" {
			name = f.Name
		}
		path := prefix + name
		ft := deref(f.Type)
		out[path] = jsonType(ft)
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
			jsonFields(ft, path+".", out)
		}
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func jsonType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "string"
	case t == reflect.TypeFor[json.RawMessage]():
		return "object" // stored verbatim; SkyDNS keeps only objects there (a verdict's check)
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case slices.Contains([]reflect.Kind{reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64}, t.Kind()):
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "array"
	case t.Kind() == reflect.Struct || t.Kind() == reflect.Map:
		return "object"
	}
	return t.Kind().String()
}
