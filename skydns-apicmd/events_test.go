package main

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/skydns-kubeapi/api"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

func TestEventsCommand(t *testing.T) {
	addr, _ := startAPIWith(t, func(cfg *api.Config, e *etcdtest.Etcd) {
		w := events.NewWriter(e.Client(), events.WriterConfig{Prefix: "/skydns"})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		cfg.Events = w
	})
	env := map[string]string{"SKYDNS_API_ADDR": addr, "SKYDNS_API_TOKEN": token}
	for _, args := range [][]string{
		{"-method", "create", "-domain", "cctv2", "-ips", "192.0.2.1;192.0.2.2", "-user", "alice"},
		{"-drain", "192.0.2.1", "-reason", "kernel upgrade", "-user", "bob"},
	} {
		if code, _, errOut := cli(env, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	when := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `)
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for len(lines) < 2 && time.Now().Before(deadline) {
		_, out, _ := cli(env, "-events")
		lines = strings.Split(strings.TrimSpace(out), "\n")
		if out == "no events\n" {
			lines = nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range lines {
		lines[i] = when.ReplaceAllString(lines[i], "<time> ")
	}
	want := []string{
		"<time> api PUT /skydns/overrides/192.0.2.1 user: bob from: 127.0.0.1:<port> changes: 1 ips: 192.0.2.1",
		"<time> api POST /skydns/api/cctv2 user: alice from: 127.0.0.1:<port> changes: 2 ips: 192.0.2.1,192.0.2.2 names: cctv2.skydns.local",
	}
	port := regexp.MustCompile(`127\.0\.0\.1:\d+`)
	for i := range lines {
		lines[i] = port.ReplaceAllString(lines[i], "127.0.0.1:<port>")
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("-events:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, tc := range []struct {
		args []string
		want int // lines
	}{
		{[]string{"-events", "-ip", "192.0.2.2"}, 1},
		{[]string{"-events", "-name", "cctv2"}, 1},
		{[]string{"-events", "-limit", "1"}, 1},
		{[]string{"-events", "-ip", "198.51.100.1"}, 0},
	} {
		code, out, errOut := cli(env, tc.args...)
		n := strings.Count(out, "\n")
		if out == "no events\n" {
			n = 0
		}
		if code != 0 || n != tc.want {
			t.Errorf("%v: %d lines (exit %d, %s), want %d:\n%s", tc.args, n, code, errOut, tc.want, out)
		}
	}
	if code, _, errOut := cli(env, "-ip", "192.0.2.1"); code != 2 || !strings.Contains(errOut, "go with -events") {
		t.Errorf("-ip alone: %d %s", code, errOut)
	}
}

func TestHashToken(t *testing.T) {
	defer func(r io.Reader) { stdin = r }(stdin)
	secret := "a-secret-of-24-characters"
	for _, tc := range []struct {
		args    []string
		in      string
		code    int
		out, er string
	}{
		{[]string{"-hash-token"}, secret + "\n", 0, apitypes.HashToken(secret) + "\n", ""},
		{[]string{"-hash-token", "-name", "alice", "-role", "operate"}, secret, 0, "alice operate " + apitypes.HashToken(secret) + "\n", ""},
		{[]string{"-hash-token", "-name", "alice"}, secret, 2, "", "both -name and -role"},
		{[]string{"-hash-token"}, "short\n", 2, "", "at least 16 characters"},
	} {
		stdin = strings.NewReader(tc.in)
		code, out, errOut := cli(nil, tc.args...)
		if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.er) {
			t.Errorf("%v: %d %q %q", tc.args, code, out, errOut)
		}
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v printed the secret", tc.args)
		}
	}
}
