package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestNewcomer is what a newcomer does on the first day: start the local
// stack the way `make run` does, follow the README's walkthrough command by
// command (records made with curl and with the CLI, answers from a DNS
// client, health read from etcd, a backend killed and revived), and stop it
// with Ctrl-C. Every command in the README's console blocks runs, and its
// output must be what the README shows, so the README cannot drift from the
// product. Afterwards nothing of the stack may be left running.
func TestNewcomer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	s := startStack(t)
	steps := readmeSteps(t, repoFile("README.md"))
	if len(steps) < 10 {
		t.Fatalf("README walkthrough: only %d commands found", len(steps))
	}
	w := &walker{t: t, s: s, env: map[string]string{}}
	for _, st := range steps {
		w.do(st)
	}

	// Ctrl-C: the terminal signals the foreground process group.
	if err := syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	s.wait(t, 30*time.Second)
	if !strings.Contains(s.output(), "local stack stopped") {
		t.Errorf("no clean stop in the output:\n%s", s.output())
	}
	s.checkNothingLeft(t)
}

// TestStackKilled: even when the stack's own process is killed outright,
// the daemons it started do not outlive it.
func TestStackKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	s := startStack(t)
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.wait(t, 10*time.Second)
	s.checkNothingLeft(t)
}

// stack is a running bin/localstack on free ports.
type stack struct {
	cmd  *exec.Cmd
	dir  string // its working directory: etcd data and logs
	bin  string
	addr map[string]string // README address -> this stack's address
	port string            // the sample backends' port

	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// The addresses the README uses, which are `make run`'s defaults.
const (
	readmeDNS     = "127.0.0.1:5353"
	readmeAPI     = "127.0.0.1:9001"
	readmeEtcd    = "127.0.0.1:2379"
	readmeControl = "127.0.0.1:9002"
	readmePort    = "80"
)

func startStack(t *testing.T) *stack {
	t.Helper()
	bin := binaries(t)
	localstack := filepath.Join(bin, "localstack")
	buildLocalstack.Do(func() {
		cmd := exec.Command("go", "build", "-o", localstack, "./scripts/localstack")
		cmd.Dir = repoFile(".")
		if out, err := cmd.CombinedOutput(); err != nil {
			localstackErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if localstackErr != nil {
		t.Fatalf("build localstack: %v", localstackErr)
	}

	s := &stack{dir: t.TempDir(), bin: bin, done: make(chan struct{}), port: freePort(t, "tcp", "127.0.0.11")}
	s.addr = map[string]string{
		readmeDNS:     "127.0.0.1:" + freeDNSPort(t),
		readmeAPI:     "127.0.0.1:" + freePort(t, "tcp", "127.0.0.1"),
		readmeEtcd:    "127.0.0.1:" + freePort(t, "tcp", "127.0.0.1"),
		readmeControl: "127.0.0.1:" + freePort(t, "tcp", "127.0.0.1"),
	}
	s.cmd = exec.Command(localstack,
		"-dir", s.dir, "-bin", bin, "-conf", repoFile("conf"),
		"-dns-addr", s.addr[readmeDNS], "-api-addr", s.addr[readmeAPI],
		"-etcd-addr", s.addr[readmeEtcd], "-control-addr", s.addr[readmeControl],
		"-stats-addr", "127.0.0.1:"+freePort(t, "tcp", "127.0.0.1"),
		"-scanner-metrics-addr", "127.0.0.1:"+freePort(t, "tcp", "127.0.0.1"),
		"-schedule-metrics-addr", "127.0.0.1:"+freePort(t, "tcp", "127.0.0.1"),
		"-backend-port", s.port, "-ready-timeout", "90s")
	// Its own process group, as in a terminal, so that the test's Ctrl-C
	// reaches only the stack.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// An *os.File, not an io.Writer: the daemons inherit it, and Wait
	// must return when the stack exits, not when the last daemon has.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			for _, d := range []string{"skydns", "skydns-kubeapi", "skydns-schedule", "skydns-scanner"} {
				b, _ := os.ReadFile(filepath.Join(s.dir, "log", d+".log"))
				t.Logf("--- %s.log (last 2 kB)\n%s", d, tail(b, 2048))
			}
		}
	})

	deadline := time.Now().Add(100 * time.Second)
	for !strings.Contains(s.output(), "SkyDNS local stack is ready.") {
		select {
		case <-s.done:
			t.Fatalf("localstack exited (%v):\n%s", s.err, s.output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("localstack not ready:\n%s", s.output())
		}
	}
	return s
}

var (
	buildLocalstack sync.Once
	localstackErr   error
)

func (s *stack) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *stack) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(d):
		t.Fatalf("localstack still running %s after the signal:\n%s", d, s.output())
	}
}

// checkNothingLeft fails if any process still runs with the stack's
// directory on its command line (every daemon gets its log directory
// there), or if any of its addresses is still bound.
func (s *stack) checkNothingLeft(t *testing.T) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		left = processesMentioning(s.dir)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Errorf("still running after the stack stopped:\n%s", strings.Join(left, "\n"))
	}
	for readme, a := range s.addr {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s (README's %s) still bound: %v", a, readme, err)
			continue
		}
		l.Close()
	}
	if c, err := net.ListenPacket("udp", s.addr[readmeDNS]); err != nil {
		t.Errorf("DNS UDP %s still bound: %v", s.addr[readmeDNS], err)
	} else {
		c.Close()
	}
	for _, ip := range []string{"127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.21", "127.0.0.22"} {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, s.port))
		if err != nil {
			t.Errorf("backend %s:%s still bound: %v", ip, s.port, err)
			continue
		}
		l.Close()
	}
}

// processesMentioning lists the live processes whose command line
// contains s, as "pid: command line".
func processesMentioning(s string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		// A zombie has exited; only its parent has not reaped it yet.
		if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); bytes.Contains(st, []byte(") Z ")) {
			continue
		}
		out = append(out, fmt.Sprintf("%d: %s", pid, bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
	}
	return out
}

// step is one command of the README's walkthrough and the output the
// README shows for it.
type step struct {
	line int
	cmd  string
	want []string
}

// readmeSteps returns the commands of every ```console block in the
// README, in order: lines starting with "$ " are commands, the lines after
// one are its output.
func readmeSteps(t *testing.T, path string) []step {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var steps []step
	in := false
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```console"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case !in:
		case strings.HasPrefix(line, "$ "):
			steps = append(steps, step{line: i + 1, cmd: strings.TrimPrefix(line, "$ ")})
		case len(steps) == 0:
			t.Fatalf("%s:%d: output before any command", path, i+1)
		default:
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}
	return steps
}

// walker runs README commands against a stack, the way a shell would but
// without needing dig, curl or etcdctl on the machine: each tool the
// README uses is done here with the same meaning.
type walker struct {
	t   *testing.T
	s   *stack
	env map[string]string
}

// do runs a step; a read is retried until its output is the README's
// (health settles within seconds), a write runs once.
func (w *walker) do(st step) {
	t := w.t
	t.Helper()
	args := shellWords(t, w.s.local(st.cmd))
	want := make([]string, len(st.want))
	for i, l := range st.want {
		want[i] = w.s.local(l)
	}
	read := isRead(args)
	deadline := time.Now().Add(30 * time.Second)
	start := time.Now()
	for {
		got, err := w.run(args)
		if err == nil && outputMatches(args[0], got, want) {
			t.Logf("README:%d %s (%s)", st.line, st.cmd, time.Since(start).Round(time.Millisecond))
			return
		}
		if !read || time.Now().After(deadline) {
			t.Fatalf("README:%d: %s\nerror: %v\ngot:\n%s\nwant (README):\n%s",
				st.line, st.cmd, err, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// local rewrites the README's addresses to this stack's.
func (s *stack) local(line string) string {
	for readme, a := range s.addr {
		line = strings.ReplaceAll(line, readme, a)
	}
	_, dnsPort, _ := net.SplitHostPort(s.addr[readmeDNS])
	line = strings.ReplaceAll(line, "-p 5353", "-p "+dnsPort)
	return strings.ReplaceAll(line, "tcp/"+readmePort+":", "tcp/"+s.port+":")
}

func isRead(args []string) bool {
	switch args[0] {
	case "dig", "etcdctl":
		return true
	case "curl":
		return !slices.Contains(args, "-X") && !slices.Contains(args, "-d")
	case "bin/skydns-apicmd":
		return !slices.ContainsFunc(args, func(a string) bool {
			return a == "-method" || a == "-policy" || a == "-drain" || a == "-undrain" || a == "-force-up"
		})
	}
	return false
}

func (w *walker) run(args []string) ([]string, error) {
	switch args[0] {
	case "export":
		for _, kv := range args[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("export %q", kv)
			}
			w.env[k] = v
		}
		return nil, nil
	case "sleep":
		d, err := strconv.ParseFloat(args[1], 64)
		if err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(d * float64(time.Second)))
		return nil, nil
	case "dig":
		return dig(args[1:])
	case "curl":
		return curl(args[1:])
	case "etcdctl":
		return etcdctl(args[1:])
	case "bin/skydns-apicmd":
		cmd := exec.Command(filepath.Join(w.s.bin, "skydns-apicmd"), args[1:]...)
		cmd.Env = os.Environ()
		for k, v := range w.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return lines(string(out)), fmt.Errorf("%v: %s", err, stderr.String())
		}
		return lines(string(out)), nil
	}
	w.t.Fatalf("the README uses %q, which this test does not know: teach it, or keep the walkthrough to dig, curl, etcdctl, bin/skydns-apicmd, export and sleep", args[0])
	return nil, nil
}

// outputMatches compares output with the README's: dig's lines in any
// order (the server rotates them), the rest line by line, where a
// placeholder such as <time> stands for one word.
func outputMatches(tool string, got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	if tool == "dig" {
		got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	}
	for i := range want {
		re := "^" + placeholder.ReplaceAllString(regexp.QuoteMeta(want[i]), `\S+`) + "$"
		if ok, _ := regexp.MatchString(re, got[i]); !ok {
			return false
		}
	}
	return true
}

var placeholder = regexp.MustCompile(`<[a-z]+>`)

// dig does `dig @server -p port name [type] [+subnet=addr[/len]] +short`.
func dig(args []string) ([]string, error) {
	m, server, err := digQuery(args)
	if err != nil {
		return nil, err
	}
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		// dig +short would print nothing; say why.
		return nil, fmt.Errorf("dig: %s", dns.RcodeToString[r.Rcode])
	}
	var out []string
	for _, rr := range r.Answer {
		out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	return out, nil
}

// digQuery builds the query dig sends for args, and the server's address.
func digQuery(args []string) (*dns.Msg, string, error) {
	var server, port, name = "", "53", ""
	qtype := dns.TypeA
	short := false
	var ecs *dns.EDNS0_SUBNET
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "@"):
			server = a[1:]
		case a == "-p" && i+1 < len(args):
			i++
			port = args[i]
		case a == "+short":
			short = true
		case strings.HasPrefix(a, "+subnet="):
			var err error
			if ecs, err = digSubnet(strings.TrimPrefix(a, "+subnet=")); err != nil {
				return nil, "", err
			}
		case dns.StringToType[strings.ToUpper(a)] != 0 && name != "":
			qtype = dns.StringToType[strings.ToUpper(a)]
		case name == "":
			name = dns.Fqdn(a)
		default:
			return nil, "", fmt.Errorf("dig: unexpected %q", a)
		}
	}
	if server == "" || name == "" || !short {
		return nil, "", fmt.Errorf("dig: want @server, a name and +short")
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	if ecs != nil {
		// dig sends the option in an OPT record of EDNS version 0 with its
		// default buffer size.
		m.SetEdns0(1232, false)
		o := m.IsEdns0()
		o.Option = append(o.Option, ecs)
	}
	return m, net.JoinHostPort(server, port), nil
}

// digSubnet reads dig's +subnet=addr[/len] the way BIND's dig does
// (dighost.c, parse_netprefix and setup_lookup): "0" alone is family 1 with
// source prefix 0 and no address; an address without /len is a host
// (32 or 128); a length beyond the family's is cut to it; an IPv4 address
// with a /len may leave out trailing zero octets ("198.51.100/24"). dig
// masks the address to the prefix on the wire, and so does the option's
// packing here; the scope is 0.
func digSubnet(v string) (*dns.EDNS0_SUBNET, error) {
	if v == "0" {
		return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, Address: net.IPv4zero.To4()}, nil
	}
	addr, length, slash := strings.Cut(v, "/")
	bits := uint64(128)
	if slash {
		n, err := strconv.ParseUint(length, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("dig: invalid prefix length in '%s'", v)
		}
		bits = n
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil && slash {
		for i := 0; i < 3 && err != nil; i++ {
			addr += ".0"
			ip, err = netip.ParseAddr(addr)
		}
	}
	if err != nil || ip.Zone() != "" {
		return nil, fmt.Errorf("dig: invalid address '%s'", v)
	}
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, Address: ip.AsSlice()}
	if ip.Is4() {
		e.Family = 1
	}
	e.SourceNetmask = uint8(min(bits, uint64(ip.BitLen())))
	return e, nil
}

// curl does `curl [-s] [-H header] [-X method] [-d data] url`.
func curl(args []string) ([]string, error) {
	method, body, url := "", "", ""
	header := http.Header{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-s":
		case (a == "-H" || a == "-X" || a == "-d") && i+1 < len(args):
			i++
			switch a {
			case "-H":
				k, v, _ := strings.Cut(args[i], ":")
				header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			case "-X":
				method = args[i]
			case "-d":
				body = args[i]
			}
		case url == "" && strings.HasPrefix(a, "http"):
			url = a
		default:
			return nil, fmt.Errorf("curl: unexpected %q", a)
		}
	}
	if method == "" {
		method = http.MethodGet
		if body != "" {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = header
	if body != "" && header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d sends
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return lines(string(b)), nil
}

// etcdctl does `etcdctl --endpoints url get [--prefix] key`: each key
// found, in key order, then its value.
func etcdctl(args []string) ([]string, error) {
	var endpoint, key string
	get, prefix := false, false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--endpoints" && i+1 < len(args):
			i++
			endpoint = args[i]
		case a == "get" && !get:
			get = true
		case a == "--prefix" && get:
			prefix = true
		case get && key == "" && !strings.HasPrefix(a, "-"):
			key = a
		default:
			return nil, fmt.Errorf("etcdctl: unexpected %q", a)
		}
	}
	if key == "" {
		return nil, fmt.Errorf("etcdctl: want get and a key")
	}
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key), string(kv.Value))
	}
	return out, nil
}

// shellWords splits a command line as sh would for the quoting the README
// uses: single and double quotes, and a # comment after a space.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				t.Fatalf("unbalanced %c in %q", c, line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		t.Fatalf("empty command %q", line)
	}
	return words
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// freePort returns a TCP or UDP port that is free on host right now.
func freePort(t *testing.T, network, host string) string {
	t.Helper()
	var a net.Addr
	if network == "udp" {
		c, err := net.ListenPacket("udp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		a = c.LocalAddr()
		c.Close()
	} else {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		a = l.Addr()
		l.Close()
	}
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

// freeDNSPort returns a port free for both UDP and TCP on 127.0.0.1.
func freeDNSPort(t *testing.T) string {
	t.Helper()
	for range 20 {
		p := freePort(t, "udp", "127.0.0.1")
		if l, err := net.Listen("tcp", "127.0.0.1:"+p); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no port free for both UDP and TCP")
	return ""
}

// TestDigSubnet: the README's `dig +subnet=` sends what BIND's dig sends.
// The bytes are the EDNS Client Subnet option (RFC 7871) as dig builds it
// (dighost.c: parse_netprefix reads the argument, setup_lookup writes
// family, source prefix, scope 0, and the address cut to the bytes the
// prefix covers with the bits beyond it cleared), in an OPT record of EDNS
// version 0 with dig's default buffer size of 1232.
func TestDigSubnet(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want []byte // the option's data; nil: dig refuses the argument
	}{
		{"198.51.100.0/24", []byte{0, 1, 24, 0, 198, 51, 100}},
		{"203.0.113.0/24", []byte{0, 1, 24, 0, 203, 0, 113}},
		{"198.51.100.7", []byte{0, 1, 32, 0, 198, 51, 100, 7}},        // no length: a host
		{"198.51.100.7/24", []byte{0, 1, 24, 0, 198, 51, 100}},        // host bits dropped
		{"198.51.100.200/25", []byte{0, 1, 25, 0, 198, 51, 100, 128}}, // the last byte masked
		{"198.51.100.7/40", []byte{0, 1, 32, 0, 198, 51, 100, 7}},     // cut to the family's
		{"203.0.113/24", []byte{0, 1, 24, 0, 203, 0, 113}},            // short IPv4 with a length
		{"0", []byte{0, 1, 0, 0}},                                     // "no client address"
		{"0.0.0.0/0", []byte{0, 1, 0, 0}},                             // the same
		{"2001:db8:1::/48", []byte{0, 2, 48, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1}},
		{"2001:db8::7/127", []byte{0, 2, 127, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6}},
		{"203.0.113", nil},      // short IPv4 only with a length
		{"198.51.100.0/x", nil}, // not a length
		{"db1.example", nil},    // not an address
		{"fe80::1%lo/64", nil},  // a zone is no address on the wire
	} {
		t.Run(tc.arg, func(t *testing.T) {
			m, server, err := digQuery([]string{"@127.0.0.1", "-p", "5353", "cctv2.skydns.local", "+subnet=" + tc.arg, "+short"})
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted; dig refuses it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if server != "127.0.0.1:5353" || m.Question[0].Name != "cctv2.skydns.local." || m.Question[0].Qtype != dns.TypeA {
				t.Errorf("query %v to %s", m.Question, server)
			}
			opt := m.IsEdns0()
			if opt == nil || opt.Version() != 0 || opt.UDPSize() != 1232 || len(opt.Option) != 1 {
				t.Fatalf("OPT record %v: want EDNS 0, size 1232, one option", opt)
			}
			wire, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			// The OPT record is the last in the message and the option its
			// only one: the message ends with code 8, the length, the data.
			want := append([]byte{0, 8, 0, byte(len(tc.want))}, tc.want...)
			if !bytes.HasSuffix(wire, want) {
				t.Errorf("option on the wire % x\nwant (dig)         % x", wire[len(wire)-min(len(wire), len(want)):], want)
			}
		})
	}
}
