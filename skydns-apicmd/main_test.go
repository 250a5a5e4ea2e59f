package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/skydns-kubeapi/api"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

const token = "123456789"

// startAPI runs the real API on a real etcd and returns its address and
// the etcd.
func startAPI(t *testing.T) (string, *etcdtest.Etcd) {
	t.Helper()
	return startAPIWith(t, nil)
}

// startAPIWith is startAPI with the API's config adjusted by mod, which
// gets the etcd too.
func startAPIWith(t *testing.T, mod func(*api.Config, *etcdtest.Etcd)) (string, *etcdtest.Etcd) {
	t.Helper()
	e := etcdtest.Start(t)
	st, err := store.New(e.Client(), store.Options{Prefix: "/skydns", StatusPath: "/skydns/monitor/status/",
		Zones: []string{"skydns.local."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Domains: []string{"skydns.local."}, Token: token, Cluster: "test",
		Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg, e)
	}
	a, err := api.New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() { defer wg.Done(); a.Serve(ctx, ln, "", "", time.Second) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	<-st.Ready()
	return ln.Addr().String(), e
}

// cli runs the command with env as its environment.
func cli(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e, func(k string) string { return env[k] })
	return code, o.String(), e.String()
}

func TestCommands(t *testing.T) {
	addr, e := startAPI(t)
	env := map[string]string{"SKYDNS_API_ADDR": addr, "SKYDNS_API_TOKEN": token}
	for _, tc := range []struct {
		desc string
		args []string
		code int
		out  []string // lines, in order; "" skips the check
		err  string
	}{
		{"create A", []string{"-method", "create", "-domain", "cctv2", "-ips", "192.0.2.1;192.0.2.2"}, 0, []string{"OK"}, ""},
		{"create CNAME", []string{"-method", "create", "-domain", "cctv2.skydns.local", "-alias", "tv1"}, 0, []string{"OK"}, ""},
		{"create AAAA", []string{"-method", "create", "-domain", "v6", "-ips", "2001:db8::1"}, 0, []string{"OK"}, ""},
		{"create TXT", []string{"-method", "create", "-domain", "v6", "-text", "hello world"}, 0, []string{"OK"}, ""},
		{"create MX", []string{"-method", "create", "-domain", "skydns.local", "-type", "mx", "-hosts", "mail", "-priority", "5"}, 0, []string{"OK"}, ""},
		{"create SRV", []string{"-method", "create", "-domain", "_sip._udp", "-type", "SRV", "-ips", "192.0.2.7", "-ports", "5060"}, 0, []string{"OK"}, ""},
		{"show", []string{"-show", "cctv2.skydns.local"}, 0,
			[]string{"domain: cctv2.skydns.local val: { type:A ips:[192.0.2.1 192.0.2.2] }"}, ""},
		{"show mixed", []string{"-show", "v6"}, 0, nil, ""},
		{"update", []string{"-method", "update", "-domain", "cctv2", "-updates", "ips:192.0.2.1->192.0.2.9"}, 0, []string{"OK"}, ""},
		{"update alias", []string{"-method", "update", "-domain", "cctv2", "-updates", "alias:tv1->tv2"}, 0, []string{"OK"}, ""},
		{"list", []string{"-list"}, 0, []string{
			"domain: skydns.local val: { type:MX hosts:[mail.skydns.local/5] }",
			"domain: _sip._udp.skydns.local val: { type:SRV targets:[192-0-2-7._sip._udp.skydns.local:5060] }",
			"domain: 192-0-2-7._sip._udp.skydns.local val: { type:A ips:[192.0.2.7] }",
			"domain: cctv2.skydns.local val: { type:A ips:[192.0.2.2 192.0.2.9] }",
			"domain: tv2.skydns.local val: { type:CNAME alias:cctv2.skydns.local }",
			"domain: v6.skydns.local val: { type:AAAA ips:[2001:db8::1] }",
			"domain: v6.skydns.local val: { type:TXT text:[\"hello world\"] }",
		}, ""},
		{"status", []string{"-status", "tv2"}, 0, []string{
			"domain: cctv2.skydns.local ip: 192.0.2.2 status: UNKNOWN",
			"domain: cctv2.skydns.local ip: 192.0.2.9 status: DOWN reason: \"tcp/80: refused\"",
		}, ""},
		{"json", []string{"-show", "cctv2", "-json"}, 0, nil, ""},
		{"policy", []string{"-domain", "cctv2", "-policy", `{"mode":"hold-one","check":{"ports":[80]}}`}, 0, []string{"OK"}, ""},
		{"policy shown", []string{"-show", "cctv2"}, 0, []string{
			"domain: cctv2.skydns.local val: { type:A ips:[192.0.2.2 192.0.2.9] }",
			`domain: cctv2.skydns.local policy: {"mode":"hold-one","check":{"ports":[80]}} source:api`,
		}, ""},
		{"delete ips", []string{"-method", "delete", "-domain", "cctv2", "-ips", "192.0.2.2"}, 0, []string{"OK"}, ""},
		{"delete alias", []string{"-method", "delete", "-domain", "tv2"}, 0, []string{"OK"}, ""},
		{"delete name", []string{"-method", "delete", "-domain", "cctv2"}, 0, []string{"OK"}, ""},
		{"not found", []string{"-show", "cctv2"}, 1, nil, "cctv2.skydns.local has no records (HTTP 404 Not Found)"},
		{"conflict", []string{"-method", "create", "-domain", "v6", "-alias", "_sip._udp"}, 1, nil, "cannot be beside other data (HTTP 409 Conflict)"},
		{"bad flag use", []string{"-method", "create"}, 2, nil, "needs -domain"},
		{"bad method", []string{"-method", "upsert", "-domain", "x"}, 2, nil, "want create, update or delete"},
		{"mixed ips", []string{"-method", "create", "-domain", "x", "-ips", "192.0.2.1;2001:db8::1"}, 2, nil, "mixes IPv4 and IPv6"},
		{"bad updates", []string{"-method", "update", "-domain", "x", "-updates", "ips:192.0.2.1"}, 2, nil, "not old->new"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.desc == "status" {
				if _, err := e.Client().Put(context.Background(), "/skydns/monitor/status/192.0.2.9", `{"status":"DOWN","reason":"tcp/80: refused"}`); err != nil {
					t.Fatal(err)
				}
				// The API's mirror applies the status within milliseconds.
				for i := 0; i < 200; i++ {
					if _, out, _ := cli(env, tc.args...); strings.Contains(out, "DOWN") {
						break
					}
					time.Sleep(25 * time.Millisecond)
				}
			}
			code, out, errOut := cli(env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.out != nil {
				if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.out, "\n") {
					t.Errorf("stdout:\n%s\nwant:\n%s", out, strings.Join(tc.out, "\n"))
				}
			}
			if !strings.Contains(errOut, tc.err) || (tc.err == "" && errOut != "") {
				t.Errorf("stderr %q, want %q", errOut, tc.err)
			}
			if strings.Contains(out+errOut, "panic") {
				t.Errorf("panic: %s %s", out, errOut)
			}
		})
	}
}

// Connection refused and a wrong token give a clear message and exit 1.
func TestUnreachableAndUnauthorized(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	code, _, errOut := cli(nil, "-addr", closed, "-list")
	if code != 1 || !strings.Contains(errOut, "connection refused") || !strings.Contains(errOut, "is skydns-kubeapi running") {
		t.Errorf("refused: exit %d, %q", code, errOut)
	}

	addr, _ := startAPI(t)
	for _, tok := range []string{"", "wrong"} {
		code, _, errOut = cli(map[string]string{"SKYDNS_API_TOKEN": tok}, "-addr", "http://"+addr, "-list")
		if code != 1 || !strings.Contains(errOut, "HTTP 401") || !strings.Contains(errOut, "SKYDNS_API_TOKEN") {
			t.Errorf("token %q: exit %d, %q", tok, code, errOut)
		}
	}
	// The original's form of the address, with the API path.
	if code, _, errOut := cli(nil, "-addr", addr+"/skydns/api/", "-token", token, "-list"); code != 0 {
		t.Errorf("address with path: exit %d %s", code, errOut)
	}
	if code, out, _ := cli(nil, "-version"); code != 0 || !strings.HasPrefix(out, "skydns-apicmd ") {
		t.Errorf("-version: %d %q", code, out)
	}
}

// The token never shows in what the CLI prints: its usage text, a
// mistyped flag, a refused or failed request (issue 15, item 8).
func TestTokenNeverPrinted(t *testing.T) {
	const secret = "s3cret-T0ken-never-printed"
	addr, _ := startAPI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	env := map[string]string{"SKYDNS_API_TOKEN": secret, "SKYDNS_API_ADDR": addr}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
	}{
		{env, []string{"-h"}, 0},
		{env, []string{"-help"}, 0},
		{env, []string{"-tokn", "x"}, 2},
		{env, []string{"-list", "extra"}, 2},
		{env, []string{"-method", "create"}, 2},
		{env, []string{"-list"}, 1}, // HTTP 401: the API's token differs
		{env, []string{"-addr", closed, "-list"}, 1},
		{nil, []string{"-token", secret, "-addr", addr, "-list"}, 1},
		{nil, []string{"-token", secret, "-h"}, 0},
	} {
		code, out, errOut := cli(tc.env, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v printed the token:\n%s%s", tc.args, out, errOut)
		}
	}
	// The environment's token is still the default.
	if code, _, errOut := cli(map[string]string{"SKYDNS_API_TOKEN": token}, "-addr", addr, "-list"); code != 0 {
		t.Errorf("token from the environment: exit %d %s", code, errOut)
	}
}

// rfc3339 stands for the times in the output, which the test cannot know.
var rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)

// The override commands: drain, force up, list, show in -status, undrain.
func TestOverrideCommands(t *testing.T) {
	addr, e := startAPI(t)
	env := map[string]string{"SKYDNS_API_ADDR": addr, "SKYDNS_API_TOKEN": token}
	if code, _, errOut := cli(env, "-method", "create", "-domain", "cctv2", "-ips", "192.0.2.1;192.0.2.2"); code != 0 {
		t.Fatalf("create: %s", errOut)
	}
	for _, tc := range []struct {
		desc string
		args []string
		code int
		out  []string // lines, in order, times as <time>; nil skips the check
		err  string
	}{
		{"none yet", []string{"-overrides"}, 0, []string{"no overrides"}, ""},
		{"drain", []string{"-drain", "192.0.2.1", "-reason", "kernel upgrade", "-user", "alice"}, 0, []string{"OK"}, ""},
		{"force up, unused address", []string{"-force-up", "198.51.100.9", "-until", "2h"}, 0, []string{"OK"},
			"skydns-apicmd: warning: no record in the zones this API serves (skydns.local) has the address 198.51.100.9"},
		{"list", []string{"-overrides"}, 0, []string{
			`ip: 192.0.2.1 override: DOWN since: <time> reason: "kernel upgrade" user: alice status: UNKNOWN names: [cctv2.skydns.local]`,
			`ip: 198.51.100.9 override: UP since: <time> until: <time> status: UNKNOWN names: []`,
		}, ""},
		{"status", []string{"-status", "cctv2"}, 0, []string{
			`domain: cctv2.skydns.local ip: 192.0.2.1 status: DOWN since: <time> reason: "override: kernel upgrade (by alice)" votes: manual override; checks: UP, 0/2 down override: DOWN`,
			`domain: cctv2.skydns.local ip: 192.0.2.2 status: UNKNOWN`,
		}, ""},
		{"list json", []string{"-overrides", "-json"}, 0, nil, ""},
		{"undrain", []string{"-undrain", "192.0.2.1"}, 0, []string{"OK"}, ""},
		{"undrain again", []string{"-undrain", "192.0.2.1"}, 1, nil, "192.0.2.1 has no override (HTTP 404 Not Found)"},
		{"after undrain", []string{"-overrides"}, 0, []string{
			`ip: 198.51.100.9 override: UP since: <time> until: <time> status: UNKNOWN names: []`,
		}, ""},
		{"IPv4-mapped, canonical", []string{"-undrain", "::ffff:198.51.100.9"}, 0, []string{"OK"}, ""},
		{"not an IP", []string{"-drain", "web"}, 2, nil, `-drain "web": not an IP address`},
		{"both", []string{"-drain", "192.0.2.1", "-force-up", "192.0.2.2"}, 2, nil, "not both"},
		{"reason alone", []string{"-reason", "x"}, 2, nil, "go with -drain or -force-up"},
		{"bad until", []string{"-drain", "192.0.2.1", "-until", "yesterday"}, 2, nil, "-until"},
		{"API refuses", []string{"-drain", "224.0.0.1"}, 1, nil, "multicast, not a host (HTTP 400 Bad Request)"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.desc == "status" {
				// The schedule's status of the drained address.
				if _, err := e.Client().Put(context.Background(), "/skydns/monitor/status/192.0.2.1",
					`{"status":"DOWN","since":"2026-11-22T05:06:37Z","reason":"override: kernel upgrade (by alice)","votes":"manual override; checks: UP, 0/2 down","override":true,"checked":"UP"}`); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 200; i++ {
					if _, out, _ := cli(env, tc.args...); strings.Contains(out, "status: DOWN") {
						break
					}
					time.Sleep(25 * time.Millisecond)
				}
			}
			code, out, errOut := cli(env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.out != nil {
				got := rfc3339.ReplaceAllString(strings.TrimSuffix(out, "\n"), "<time>")
				if got != strings.Join(tc.out, "\n") {
					t.Errorf("stdout:\n%s\nwant:\n%s", got, strings.Join(tc.out, "\n"))
				}
			}
			if !strings.Contains(errOut, tc.err) || (tc.err == "" && errOut != "") {
				t.Errorf("stderr %q, want %q", errOut, tc.err)
			}
		})
	}
	// The original's address form, with the API path: the overrides sit
	// beside it.
	if code, out, errOut := cli(nil, "-addr", addr+"/skydns/api/", "-token", token, "-overrides"); code != 0 || out != "no overrides\n" {
		t.Errorf("address with path: exit %d %q %s", code, out, errOut)
	}
}
