package record_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/skydns/skydns/internal/record"
)

// TestStoredValuesAreNoRecords: every value SkyDNS writes under the
// records' prefix that is not a record reads, in the message format, as a
// record of nothing: a JSON object with no host and no text, whose fields
// that share a name with the format's have the format's JSON type. Such a
// reader then makes nothing of it, so it neither fails nor deletes it.
func TestStoredValuesAreNoRecords(t *testing.T) {
	format := map[string]string{}
	jsonFields(reflect.TypeFor[record.Foreign](), "", format)
	for _, name := range slices.Sorted(maps.Keys(storedValues)) {
		if name == "record" {
			continue
		}
		typ := storedValues[name]
		fields := map[string]string{}
		jsonFields(typ, "", fields)
		for field, jt := range fields {
			if strings.Contains(field, ".") {
				continue // inside a nested object: not the format's
			}
			want, shared := format[field]
			switch {
			case field == "host" || field == "text":
				t.Errorf("%s (%v): field %q would make it a record", name, typ, field)
			case shared && want != jt:
				t.Errorf("%s (%v): field %q is a JSON %s; the message format reads a %s there", name, typ, field, jt, want)
			}
		}
		b, err := json.Marshal(reflect.New(typ).Interface())
		if err != nil {
			t.Fatal(err)
		}
		var m record.Foreign
		if err := json.Unmarshal(b, &m); err != nil || m.Host != "" || m.Text != "" {
			t.Errorf("%s: %s reads as %+v, %v", name, b, m, err)
		}
	}
}
