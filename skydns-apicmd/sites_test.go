package main

import (
	"strings"
	"testing"
)

// The site commands, in order, against the real API: each step's output is
// the spec of what an operator sees.
func TestSiteCommands(t *testing.T) {
	addr, _ := startAPI(t)
	env := map[string]string{"SKYDNS_API_ADDR": addr, "SKYDNS_API_TOKEN": token}
	for _, tc := range []struct {
		desc string
		args []string
		code int
		out  []string // lines, in order; nil skips the check
		err  string
	}{
		{"none yet", []string{"-sites"}, 0, []string{"no sites"}, ""},
		{"create gz", []string{"-site", "gz", "-networks", "203.0.113.0/24"}, 0, []string{"OK"}, ""},
		{"create sh", []string{"-site", "sh", "-networks", "198.51.100.0/25; 2001:db8:1::/48", "-fallback", "gz"}, 0, []string{"OK"}, ""},
		{"list", []string{"-sites"}, 0, []string{
			"site: gz networks: [203.0.113.0/24] fallback: (all other sites) fallback-of: [sh]",
			"site: sh networks: [198.51.100.0/25 2001:db8:1::/48] fallback: [gz]",
		}, ""},
		{"change networks, keep fallback", []string{"-site", "sh", "-networks", "198.51.100.0/24"}, 0, []string{"OK"}, ""},
		{"show one", []string{"-site", "sh"}, 0, []string{"site: sh networks: [198.51.100.0/24] fallback: [gz]"}, ""},
		{"records with and without a site field", []string{"-method", "create", "-domain", "web", "-ips", "198.51.100.1;192.0.2.1"}, 0, []string{"OK"}, ""},
		{"record site field", []string{"-method", "create", "-domain", "web", "-ips", "192.0.2.2", "-site", "gz"}, 0, []string{"OK"}, ""},
		{"show lists each IP's site", []string{"-show", "web"}, 0, []string{
			"domain: web.skydns.local val: { type:A ips:[192.0.2.1 192.0.2.2 198.51.100.1] }",
			"domain: web.skydns.local ip: 192.0.2.2 site: gz (record)",
			"domain: web.skydns.local ip: 198.51.100.1 site: sh (network)",
		}, ""},
		{"conflict", []string{"-site", "bj", "-networks", "198.51.100.0/24"}, 1, nil, "network 198.51.100.0/24 is already in site sh: a network belongs to one site (HTTP 400 Bad Request)"},
		{"unknown fallback", []string{"-site", "bj", "-fallback", "nowhere"}, 1, nil, "no such site"},
		{"delete a fallback", []string{"-delete-site", "gz"}, 1, nil, "site gz is the fallback of sh"},
		{"clear fallback", []string{"-site", "sh", "-fallback", "none"}, 0, []string{"OK"}, ""},
		{"delete", []string{"-delete-site", "gz"}, 0, []string{"OK"}, ""},
		{"record names a site that is gone", []string{"-show", "web"}, 0, []string{
			"domain: web.skydns.local val: { type:A ips:[192.0.2.1 192.0.2.2 198.51.100.1] }",
			"domain: web.skydns.local ip: 192.0.2.2 site: none (network; its record names site gz, which does not exist)",
			"domain: web.skydns.local ip: 198.51.100.1 site: sh (network)",
		}, ""},
		{"show a missing site", []string{"-site", "gz"}, 1, nil, "no site gz (HTTP 404 Not Found)"},
		{"bad name", []string{"-site", "Shanghai"}, 2, nil, `-site "Shanghai": a site name is a lower-case DNS label`},
		{"networks alone", []string{"-networks", "192.0.2.0/24"}, 2, nil, "go with -site"},
		{"json", []string{"-sites", "-json"}, 0, nil, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			code, out, errOut := cli(env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if tc.out != nil {
				if got := strings.TrimSuffix(out, "\n"); got != strings.Join(tc.out, "\n") {
					t.Errorf("stdout:\n%s\nwant:\n%s", got, strings.Join(tc.out, "\n"))
				}
			}
			if !strings.Contains(errOut, tc.err) || (tc.err == "" && errOut != "") {
				t.Errorf("stderr %q, want %q", errOut, tc.err)
			}
		})
	}
	// The original's address form, with the API path: the sites sit
	// beside it.
	if code, out, errOut := cli(nil, "-addr", addr+"/skydns/api/", "-token", token, "-sites"); code != 0 || !strings.HasPrefix(out, "site: sh") {
		t.Errorf("address with path: exit %d %q %s", code, out, errOut)
	}
}
