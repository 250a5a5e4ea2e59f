package record

import (
	"slices"
	"strings"
	"testing"
)

// TestRuleOwners is the table of docs/data-model.md "Which names a record
// serves": every layout the ecosystem writes, and the names it serves.
func TestRuleOwners(t *testing.T) {
	const (
		a     = `{"host":"198.51.100.7"}`
		cname = `{"type":"CNAME","host":"web.skydns.local"}`
	)
	zones := []string{"skydns.local.", "sub.skydns.local", "other.test."}
	tests := []struct {
		name    string
		key     string
		value   string
		descend []string
		want    string // owner names, space separated; "" for an error
	}{
		// The layouts of the issue: a leaf of the writer's choosing.
		{"leaf label below www", "/skydns/local/skydns/www/ttggxuxp", a, nil, "ttggxuxp.www.skydns.local. www.skydns.local."},
		{"numbered leaf", "/skydns/local/skydns/big/1", `{"host":"198.51.100.1","ttl":30}`, nil, "1.big.skydns.local. big.skydns.local."},
		{"kube leaf with trailing slash", "/skydns/local/skydns/svc/default/svc-0/x1/", `{"host":"198.51.100.9","type":"A"}`, nil, "x1.svc-0.default.svc.skydns.local. svc-0.default.svc.skydns.local."},
		{"TXT leaf", "/skydns/local/skydns/txtrec/aa01", `{"text":"hello"}`, nil, "aa01.txtrec.skydns.local. txtrec.skydns.local."},

		// What works today keeps one owner: ids of every writer.
		{"SkyDNS id", "/skydns/local/skydns/cctv2/4af19cb2", a, nil, "cctv2.skydns.local."},
		{"original API unpadded id", "/skydns/local/skydns/cctv2/af19cb2/", a, nil, "cctv2.skydns.local."},
		{"original kubeapi", "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", a, nil, "nginx.default.svc.skydns.local."},
		{"ExternalDNS targetstrip", "/skydns/local/skydns/web/Leaf-1", `{"host":"198.51.100.7","targetstrip":1}`, nil, "web.skydns.local."},
		{"ExternalDNS without targetstrip", "/skydns/local/skydns/web/1f2e3d4c", a, nil, "web.skydns.local."},

		// A name's own path under a zone apex: never the apex's record.
		{"own path below apex", "/skydns/local/skydns/x", a, nil, "x.skydns.local."},
		{"original API CNAME", "/skydns/local/skydns/tv1/", cname, nil, "tv1.skydns.local."},
		{"CNAME deeper never climbs", "/skydns/local/skydns/a/tv1/", cname, nil, "tv1.a.skydns.local."},
		{"untyped CNAME never climbs", "/skydns/local/skydns/a/b", `{"host":"web.example.org"}`, nil, "b.a.skydns.local."},
		{"wildcard never climbs", "/skydns/local/skydns/www/*", a, nil, "*.www.skydns.local."},
		{"apex of a nested zone stays", "/skydns/local/skydns/sub/x", a, nil, "x.sub.skydns.local."},
		{"nested zone's names stay in it", "/skydns/local/skydns/sub/y/x", a, nil, "x.y.sub.skydns.local. y.sub.skydns.local."},
		{"record at the apex", "/skydns/local/skydns/", `{"text":"apex"}`, nil, "skydns.local."},
		{"outside every zone", "/skydns/example/www/a", a, nil, "a.www.example."},
		{"upper case folded", "/skydns/Local/SkyDNS/WWW/Leaf", a, nil, "leaf.www.skydns.local. www.skydns.local."},

		// Only one level up: the kube layout's namespace stays empty.
		{"one level only", "/skydns/local/skydns/svc/default/svc-0/x1", a, nil, "x1.svc-0.default.svc.skydns.local. svc-0.default.svc.skydns.local."},

		// descend-zones: every ancestor below the apex, as CoreDNS.
		{"descend", "/skydns/local/skydns/svc/default/svc-0/x1", a, []string{"skydns.local"}, "x1.svc-0.default.svc.skydns.local. svc-0.default.svc.skydns.local. default.svc.skydns.local. svc.skydns.local."},
		{"descend takes ids too", "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", a, []string{"skydns.local"}, "nginx.default.svc.skydns.local. default.svc.skydns.local. svc.skydns.local."},
		{"descend, targetstrip", "/skydns/local/skydns/a/web/1f2e3d4c", `{"host":"198.51.100.7","targetstrip":1}`, []string{"skydns.local"}, "web.a.skydns.local. a.skydns.local."},
		{"descend is per zone", "/skydns/local/skydns/sub/y/x/w", a, []string{"skydns.local"}, "w.x.y.sub.skydns.local. x.y.sub.skydns.local."},
		{"descend never reaches the apex", "/skydns/test/other/a/b", a, []string{"other.test"}, "b.a.other.test. a.other.test."},
		{"descend never a CNAME", "/skydns/local/skydns/a/b/c", cname, []string{"skydns.local"}, "c.b.a.skydns.local."},

		{"bad key", "/skydns/local//x", a, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ru := NewRule("/skydns/", zones, tt.descend)
			names, _, err := ru.Owners(tt.key, mustDecode(t, tt.value))
			if tt.want == "" {
				if err == nil {
					t.Fatalf("Owners(%q) = %v, want an error", tt.key, names)
				}
				return
			}
			if err != nil {
				t.Fatalf("Owners(%q): %v", tt.key, err)
			}
			if got := strings.Join(names, " "); got != tt.want {
				t.Errorf("Owners(%q)\n got %s\nwant %s", tt.key, got, tt.want)
			}
			// The first owner is always ParseKey's name: the rule only adds.
			if n, _, err := ParseKey("/skydns", tt.key, mustDecode(t, tt.value)); err != nil || n != names[0] {
				t.Errorf("ParseKey = %q, %v; Owners starts with %q", n, err, names[0])
			}
		})
	}
}

// A reader that knows no zones (the scheduler) counts the parent of every
// record at its own path, CNAMEs and wildcards aside.
func TestRuleWithoutZones(t *testing.T) {
	ru := NewRule("/skydns", nil, nil)
	for key, want := range map[string][]string{
		"/skydns/local/skydns/www/leaf":     {"leaf.www.skydns.local.", "www.skydns.local."},
		"/skydns/local/skydns/x":            {"x.skydns.local.", "skydns.local."},
		"/skydns/local":                     {"local."},
		"/skydns/local/skydns/www/0a0b0c0d": {"www.skydns.local."},
		"/skydns/local/skydns/*":            {"*.skydns.local."},
	} {
		got, _, err := ru.Owners(key, mustDecode(t, `{"host":"198.51.100.7"}`))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Owners(%q) = %v, %v; want %v", key, got, err, want)
		}
	}
}

func TestKeyPathsDoesNotAllocate(t *testing.T) {
	ru := NewRule("/skydns", []string{"skydns.local.", "sub.skydns.local."}, []string{"sub.skydns.local."})
	r := mustDecode(t, `{"host":"198.51.100.7"}`)
	for _, key := range []string{"/skydns/local/skydns/www/ttggxuxp", "/skydns/local/skydns/www/0a0b0c0d", "/skydns/local/skydns/sub/a/b/c"} {
		if n := testing.AllocsPerRun(100, func() { _, _, _, _ = ru.KeyPaths(key, r) }); n != 0 {
			t.Errorf("KeyPaths(%q): %v allocations", key, n)
		}
	}
}

// BenchmarkKeyPaths is the rule's cost per key of a large zone, next to
// ParseKeyPath's (which it replaces in the loaders): SkyDNS's keys with
// an id, and CoreDNS-style leaves that serve their parent too.
func BenchmarkKeyPaths(b *testing.B) {
	ru := NewRule("/skydns", []string{"skydns.local.", "sub.skydns.local."}, nil)
	r := Record{Type: TypeA, Host: "198.51.100.7"}
	for _, key := range []string{"/skydns/local/skydns/bench/n123456/0a1b2c3d", "/skydns/local/skydns/bench/n123456/leaf"} {
		b.Run("ParseKeyPath"+key[len(key)-5:], func(b *testing.B) {
			for b.Loop() {
				_, _, _ = ParseKeyPath("/skydns", key, r)
			}
		})
		b.Run("Rule"+key[len(key)-5:], func(b *testing.B) {
			for b.Loop() {
				_, _, _, _ = ru.KeyPaths(key, r)
			}
		})
	}
}
