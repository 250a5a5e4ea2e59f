package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// Each daemon starts with its sample config from conf/, reaches etcd, and
// stops cleanly on SIGTERM.
func TestDaemonsStartWithSampleConfigAndStop(t *testing.T) {
	bin := binaries(t)
	etcd := etcdtest.Start(t)
	endpoint := etcd.Endpoints()[0]
	for _, tc := range []struct {
		program, conf string
		sets          []string
	}{
		{"skydns", "skydns.conf", []string{"Dns.dns-addr=127.0.0.1:0", "Stats.statsServer="}},
		{"skydns-kubeapi", "skydns-api.conf", []string{"SkydnsApi.api-address=127.0.0.1:0"}},
		{"skydns-scanner", "skydns-scanner.conf", []string{"General.metrics-addr="}},
		{"skydns-schedule", "skydns-schedule.conf", []string{"General.metrics-addr="}},
	} {
		t.Run(tc.program, func(t *testing.T) {
			args := []string{"-config-file", repoFile("conf/" + tc.conf), "-set", "Etcd.etcd-servers=" + endpoint}
			for _, s := range tc.sets {
				args = append(args, "-set", s)
			}
			p := start(t, filepath.Join(bin, tc.program), args...)
			p.waitLog("etcd reachable", 20*time.Second)
			p.stop(10 * time.Second)
			if !strings.Contains(p.output(), "msg=stopped") {
				t.Fatalf("no 'stopped' line:\n%s", p.output())
			}
		})
	}
}

// Each daemon stops cleanly on SIGTERM also while etcd is gone, within
// etcd-request-timeout plus a margin for a loaded machine: whatever it
// would still tell etcd (a resignation, a revoke) is given up then. The
// schedule is stopped as the leader, whose lease (lock-ttl, 10 s) used to
// hold it up to the TTL.
func TestDaemonsStopWithEtcdGone(t *testing.T) {
	bin := binaries(t)
	const requestTimeout, margin = time.Second, 5 * time.Second
	for _, tc := range []struct {
		program, conf string
		sets          []string
		// ready is the log line after which the daemon holds something
		// in etcd.
		ready string
	}{
		{"skydns", "skydns.conf", []string{"Dns.dns-addr=127.0.0.1:0", "Stats.statsServer="}, "etcd reachable"},
		{"skydns-kubeapi", "skydns-api.conf", []string{"SkydnsApi.api-address=127.0.0.1:0"}, "etcd reachable"},
		{"skydns-scanner", "skydns-scanner.conf", []string{"General.metrics-addr="}, "msg=registered"},
		{"skydns-schedule", "skydns-schedule.conf", []string{"General.metrics-addr="}, "msg=leading"},
	} {
		t.Run(tc.program, func(t *testing.T) {
			etcd := etcdtest.Start(t)
			args := []string{"-config-file", repoFile("conf/" + tc.conf),
				"-set", "Etcd.etcd-servers=" + etcd.Endpoints()[0],
				"-set", "Etcd.etcd-request-timeout=" + requestTimeout.String()}
			for _, s := range tc.sets {
				args = append(args, "-set", s)
			}
			p := start(t, filepath.Join(bin, tc.program), args...)
			p.waitLog(tc.ready, 20*time.Second)
			etcd.Stop()
			begin := time.Now()
			p.stop(requestTimeout + margin)
			t.Logf("stopped %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
			if !strings.Contains(p.output(), "msg=stopped") {
				t.Fatalf("no 'stopped' line:\n%s", p.output())
			}
		})
	}
}

// With etcd-servers = embedded a daemon runs its own etcd in-process: the
// local stack's mode.
func TestEmbeddedEtcd(t *testing.T) {
	bin := binaries(t)
	p := start(t, filepath.Join(bin, "skydns"), "-config-file", repoFile("conf/skydns.conf"),
		"-set", "Etcd.etcd-servers=embedded",
		"-set", "Etcd.embedded-data-dir="+t.TempDir(),
		"-set", "Etcd.embedded-client-addr=127.0.0.1:0",
		"-set", "Dns.dns-addr=127.0.0.1:0", "-set", "Stats.statsServer=")
	p.waitLog("embedded etcd started", 30*time.Second)
	p.waitLog("etcd reachable", 20*time.Second)
	p.stop(15 * time.Second)
}

// Every program answers -version; bad configs fail with exit 2 and a
// message naming file, section and key.
func TestVersionAndConfigErrors(t *testing.T) {
	bin := binaries(t)
	for _, prog := range programs {
		out, err := exec.Command(filepath.Join(bin, prog), "-version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), prog+" ") {
			t.Errorf("%s -version = %q, %v", prog, out, err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config-file", "/nonexistent/skydns.conf"}, "skydns.conf: open /nonexistent/skydns.conf"},
		{[]string{"-config-file", repoFile("conf/skydns.conf"), "-set", "Dns.dns-addr=127.0.0.1"}, "[Dns] dns-addr: missing port"},
		{[]string{"-config-file", repoFile("conf/skydns.conf"), "-set", "Log.log-level=loud"}, "[Log] log-level"},
	} {
		cmd := exec.Command(filepath.Join(bin, "skydns"), tc.args...)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("skydns %v: exit %v, output %q; want exit 2 with %q", tc.args, err, out, tc.want)
		}
	}
}

// SIGHUP, as logrotate's postrotate sends it, makes a daemon reopen its
// log file and go on; it used to kill it.
func TestSIGHUPReopensLogFile(t *testing.T) {
	bin := binaries(t)
	etcd := etcdtest.Start(t)
	dir := t.TempDir()
	p := start(t, filepath.Join(bin, "skydns-schedule"), "-config-file", repoFile("conf/skydns-schedule.conf"),
		"-set", "Etcd.etcd-servers="+etcd.Endpoints()[0], "-set", "General.metrics-addr=",
		"-set", "Log.log-dir="+dir, "-set", "Log.log-to-stdio=true")
	p.waitLog("etcd reachable", 20*time.Second)
	file := filepath.Join(dir, "skydns-schedule.log")
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog("log file reopened", 10*time.Second)
	b, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(b), "log file reopened") {
		t.Fatalf("new log file: %q, %v", b, err)
	}
	p.stop(15 * time.Second)
}

// SIGHUP makes skydns-kubeapi read api-tokens-file again: a token whose
// role went from read to operate may drain at once, without a restart.
// Its secret never reaches the log.
func TestSIGHUPReloadsTokens(t *testing.T) {
	bin := binaries(t)
	etcd := etcdtest.Start(t)
	const secret = "the-secret-of-alice-0123456789"
	file := filepath.Join(t.TempDir(), "api-tokens")
	writeTokens := func(role string) {
		line := "alice " + role + " " + apitypes.HashToken(secret) + "\n"
		if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeTokens("read")
	addr := "127.0.0.1:" + freePort(t, "tcp", "127.0.0.1")
	p := start(t, filepath.Join(bin, "skydns-kubeapi"), "-config-file", repoFile("conf/skydns-api.conf"),
		"-set", "Etcd.etcd-servers="+etcd.Endpoints()[0], "-set", "SkydnsApi.api-address="+addr,
		"-set", "SkydnsApi.api-tokens-file="+file, "-set", "Log.log-to-stdio=true")
	p.waitLog("etcd reachable", 20*time.Second)
	drain := func() int {
		req, err := http.NewRequest("PUT", "http://"+addr+"/skydns/overrides/192.0.2.1",
			strings.NewReader(`{"status":"DOWN","reason":"test"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0 // not listening yet
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(20 * time.Second)
	code := drain()
	for code != http.StatusForbidden && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		code = drain()
	}
	if code != http.StatusForbidden {
		t.Fatalf("a read token drains: %d, want 403", code)
	}
	writeTokens("operate")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for code != http.StatusOK && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		code = drain()
	}
	if code != http.StatusOK {
		t.Fatalf("after SIGHUP the operate token drains: %d, want 200", code)
	}
	p.stop(15 * time.Second)
	if strings.Contains(p.output(), secret) {
		t.Errorf("the log holds the secret:\n%s", p.output())
	}
	if !strings.Contains(p.output(), "api request refused") {
		t.Errorf("the 403 was not logged:\n%s", p.output())
	}
}
