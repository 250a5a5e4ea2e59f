package chaos

import (
	"maps"
	"slices"
	"testing"
)

// The write invariant's model: what the API's answers allow a key to be at
// the end.
func TestWriteModel(t *testing.T) {
	add := func(ip string, code int, err string) wrec {
		return wrec{key: "name:w", op: "add", arg: ip, code: code, err: err}
	}
	del := func(code int) wrec { return wrec{key: "name:w", op: "delete", code: code} }
	for _, tc := range []struct {
		name string
		log  []wrec
		want []string
	}{
		{"nothing written: absent", nil, nil},
		{"acknowledged add", []wrec{add("a", 200, "")}, []string{"a"}},
		{"acknowledged adds accumulate, sorted", []wrec{add("b", 200, ""), add("a", 200, "")}, []string{"a,b"}},
		{"503 may or may not", []wrec{add("a", 200, ""), add("b", 503, "")}, []string{"a", "a,b"}},
		{"a broken connection may or may not", []wrec{add("a", 0, "EOF")}, []string{"", "a"}},
		{"a refused connection did not", []wrec{add("a", 0, "connection refused")}, []string{""}},
		{"404 and 409 did not", []wrec{add("a", 200, ""), del(404), add("b", 409, "")}, []string{"a"}},
		{"an acknowledged write after an ambiguous one settles it", []wrec{add("a", 503, ""), del(200)}, []string{""}},
		{"an acknowledged add keeps both branches of an earlier ambiguity", []wrec{add("a", 503, ""), add("b", 200, "")}, []string{"a,b", "b"}},
		{"drain, then ambiguous undrain", []wrec{{key: "override:x", op: "drain", code: 200}, {key: "override:x", op: "undrain", code: 503}}, []string{"", "DOWN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := possible(tc.log)
			key := "name:w"
			if len(tc.log) > 0 {
				key = tc.log[0].key
			}
			states := []string{""}
			if ps, ok := got[key]; ok {
				states = slices.Sorted(maps.Keys(ps))
			}
			want := tc.want
			if want == nil {
				want = []string{""}
			}
			if !slices.Equal(states, want) {
				t.Errorf("possible states %q, want %q", states, want)
			}
		})
	}
}
