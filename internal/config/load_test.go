package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConf writes content to a file called name in a fresh directory.
func writeConf(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var wantDNS = DNS{
	DNS: DNSSection{
		Domains:        []string{"skydns.local."},
		Addr:           "0.0.0.0:53",
		CacheSize:      100000,
		IPMonitorPath:  "/skydns/monitor/status/",
		TTL:            30 * time.Second,
		HealthTTLCap:   10 * time.Second,
		NegativeTTL:    30 * time.Second,
		AllowRecursion: []string{"127.0.0.0/8", "::1/128"},
		AllowPTR:       []string{"allow-recursion"},
		ServeUnchecked: true,
		ClientMaskV4:   32,
		ClientMaskV6:   128,
		AllDown:        "all",
		UDPRcvBuf:      4 << 20,
		ForwardTimeout: 2 * time.Second,
		MaxTCPConns:    1000,
		MaxForwardQ:    1000,
		MaxSlowQ:       10000,
	},
	Stats: StatsSection{Addr: "127.0.0.1:9153"},
	Etcd:  wantEtcd,
	Log:   wantLog,
}

var wantEtcd = Etcd{
	Servers:            []string{"http://127.0.0.1:2379"},
	DialTimeout:        5 * time.Second,
	RequestTimeout:     5 * time.Second,
	Prefix:             "/skydns",
	EmbeddedDataDir:    "/var/lib/skydns/etcd",
	EmbeddedClientAddr: "127.0.0.1:2379",
}

var wantLog = Log{Level: "info", Format: "text"}

var wantPaths = MonitorPaths{
	StatusPath: "/skydns/monitor/status/",
	ReportPath: "/skydns/monitor/report/",
	HeartPath:  "/skydns/monitor/agent/",
	JobPath:    "/skydns/monitor/job/",
}

var wantHistory = History{EventsRetention: 7 * 24 * time.Hour, EventsMax: 100000}

var wantAPI = API{
	General: APIGeneral{IPMonitorPath: "/skydns/monitor/status/", OverridePath: "/skydns/monitor/override/", ClusterName: "default", MetricsAddr: "127.0.0.1:9156",
		History: wantHistory},
	Kube: KubeSection{Domain: "skydns.local.", LockTTL: 10 * time.Second},
	API: APISection{
		Enable:  true,
		Domains: []string{"skydns.local."},
		Address: "127.0.0.1:9001",
		MaxBody: 1 << 20,
	},
	Etcd: wantEtcd,
	Log:  wantLog,
}

var wantScanner = Scanner{
	General: ScannerGeneral{
		HeartbeatInterval: 5 * time.Second,
		EnableCheck:       true,
		MetricsAddr:       "127.0.0.1:9154",
	},
	Check: CheckSection{
		Interval:     2 * time.Second,
		Timeout:      time.Second,
		RetryCount:   1,
		DefaultPorts: []string{"80"},
		EnableICMP:   true,
		PingTimeout:  time.Second,
		PingCount:    1,
		MaxThreads:   256,
		Rise:         2,
		Fall:         3,
	},
	Etcd: ScannerEtcd{Etcd: wantEtcd, MonitorPaths: wantPaths},
	Log:  wantLog,
}

var wantSchedule = Schedule{
	General: ScheduleGeneral{
		Interval:      5 * time.Second,
		AgentDowntime: 15 * time.Second,
		Replicas:      2,
		StatusGrace:   300 * time.Second,
		MetricsAddr:   "127.0.0.1:9155",
		History:       wantHistory,
	},
	Etcd: ScheduleEtcd{Etcd: wantEtcd, LockPath: "/skydns/monitor/lock", LockTTL: 10 * time.Second, MonitorPaths: wantPaths,
		OverridePath: "/skydns/monitor/override/"},
	Log: wantLog,
}

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		dst  any
		want any
	}{
		{"skydns.conf", new(DNS), &wantDNS},
		{"skydns-api.conf", new(API), &wantAPI},
		{"skydns-scanner.conf", new(Scanner), &wantScanner},
		{"skydns-schedule.conf", new(Schedule), &wantSchedule},
	} {
		for _, content := range []string{"", "# only a comment\n", "[Etcd]\n[Log]\n"} {
			t.Run(tc.name, func(t *testing.T) {
				dst := reflect.New(reflect.TypeOf(tc.dst).Elem()).Interface()
				warnings, err := Load(writeConf(t, tc.name, content), dst, nil)
				if err != nil || len(warnings) > 0 {
					t.Fatalf("Load: %v, warnings %q", err, warnings)
				}
				if !reflect.DeepEqual(dst, tc.want) {
					t.Errorf("got  %+v\nwant %+v", dst, tc.want)
				}
				// No file at all gives the same.
				dst2 := reflect.New(reflect.TypeOf(tc.dst).Elem()).Interface()
				if _, err := Load("", dst2, nil); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(dst2, tc.want) {
					t.Errorf("no file: got %+v", dst2)
				}
			})
		}
	}
}

// Defaults replace whatever the struct held, so a reload starts clean.
func TestLoadResetsStruct(t *testing.T) {
	d := DNS{}
	d.DNS.CacheSize = 7
	d.DNS.Nameservers = []string{"1.1.1.1"}
	if _, err := Load("", &d, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, wantDNS) {
		t.Errorf("got %+v", d)
	}
}

type kindsConf struct {
	S struct {
		Str    string        `ini:"str" default:"x" help:"h"`
		Bool   bool          `ini:"bool" default:"false" help:"h"`
		Int    int           `ini:"int" default:"1" help:"h"`
		I64    int64         `ini:"i64" default:"1" help:"h"`
		U32    uint32        `ini:"u32" default:"1" help:"h"`
		F64    float64       `ini:"f64" default:"1.5" help:"h"`
		Dur    time.Duration `ini:"dur" default:"1m" help:"h"`
		SUnit  time.Duration `ini:"sec" unit:"s" default:"1s" help:"h"`
		MsUnit time.Duration `ini:"milli" unit:"ms" default:"1ms" help:"h"`
		List   []string      `ini:"list" default:"a,b" help:"h"`
		Multi  []string      `ini:"multi" sep:"%," default:"" help:"h"`
	} `ini:"S"`
}

func TestKinds(t *testing.T) {
	for _, tc := range []struct {
		line string
		get  func(c *kindsConf) any
		want any
	}{
		{"str = hello world", func(c *kindsConf) any { return c.S.Str }, "hello world"},
		{`str = "quoted # not a comment"`, func(c *kindsConf) any { return c.S.Str }, "quoted # not a comment"},
		{`str = "say \"hi\" ; x"`, func(c *kindsConf) any { return c.S.Str }, `say "hi" ; x`},
		{"str = tok#en;x # comment", func(c *kindsConf) any { return c.S.Str }, "tok#en;x"},
		{"str = 100%(x)s", func(c *kindsConf) any { return c.S.Str }, "100%(x)s"},
		{"str =", func(c *kindsConf) any { return c.S.Str }, ""},
		{"bool = true", func(c *kindsConf) any { return c.S.Bool }, true},
		{"bool = YES", func(c *kindsConf) any { return c.S.Bool }, true},
		{"bool = on", func(c *kindsConf) any { return c.S.Bool }, true},
		{"bool = 1", func(c *kindsConf) any { return c.S.Bool }, true},
		{"bool = False", func(c *kindsConf) any { return c.S.Bool }, false},
		{"bool = no", func(c *kindsConf) any { return c.S.Bool }, false},
		{"bool = off", func(c *kindsConf) any { return c.S.Bool }, false},
		{"bool = 0", func(c *kindsConf) any { return c.S.Bool }, false},
		{"int = -42", func(c *kindsConf) any { return c.S.Int }, -42},
		{"int =", func(c *kindsConf) any { return c.S.Int }, 1},
		{"i64 = 9000000000", func(c *kindsConf) any { return c.S.I64 }, int64(9000000000)},
		{"u32 = 4294967295", func(c *kindsConf) any { return c.S.U32 }, uint32(4294967295)},
		{"f64 = 0.25", func(c *kindsConf) any { return c.S.F64 }, 0.25},
		{"dur = 1h30m", func(c *kindsConf) any { return c.S.Dur }, 90 * time.Minute},
		{"dur = 0", func(c *kindsConf) any { return c.S.Dur }, time.Duration(0)},
		{"sec = 3", func(c *kindsConf) any { return c.S.SUnit }, 3 * time.Second},
		{"sec = 1.5", func(c *kindsConf) any { return c.S.SUnit }, 1500 * time.Millisecond},
		{"sec = 2s", func(c *kindsConf) any { return c.S.SUnit }, 2 * time.Second},
		{"sec = 1500ms", func(c *kindsConf) any { return c.S.SUnit }, 1500 * time.Millisecond},
		{"milli = 500", func(c *kindsConf) any { return c.S.MsUnit }, 500 * time.Millisecond},
		{"milli = 2s", func(c *kindsConf) any { return c.S.MsUnit }, 2 * time.Second},
		{"list = x, y ,,z", func(c *kindsConf) any { return c.S.List }, []string{"x", "y", "z"}},
		{"list = a%b", func(c *kindsConf) any { return c.S.List }, []string{"a%b"}},
		{"list =", func(c *kindsConf) any { return c.S.List }, []string(nil)},
		{"multi = a.%b.,c.", func(c *kindsConf) any { return c.S.Multi }, []string{"a.", "b.", "c."}},
	} {
		t.Run(tc.line, func(t *testing.T) {
			var c kindsConf
			_, err := Load(writeConf(t, "k.conf", "[S]\n"+tc.line+"\n"), &c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(&c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		section, line string
		get           func(c *Scanner) time.Duration
		want          time.Duration
	}{
		{"General", "heartbeat-interval = 3", func(c *Scanner) time.Duration { return c.General.HeartbeatInterval }, 3 * time.Second},
		{"General", "heartbeat-interval = 2s", func(c *Scanner) time.Duration { return c.General.HeartbeatInterval }, 2 * time.Second},
		{"Check", "check-timeout = 1500ms", func(c *Scanner) time.Duration { return c.Check.Timeout }, 1500 * time.Millisecond},
		{"Check", "ping-timeout = 500", func(c *Scanner) time.Duration { return c.Check.PingTimeout }, 500 * time.Millisecond},
		{"Check", "ping-timeout = 2s", func(c *Scanner) time.Duration { return c.Check.PingTimeout }, 2 * time.Second},
		{"Etcd", "etcd-dial-timeout = 10", func(c *Scanner) time.Duration { return c.Etcd.DialTimeout }, 10 * time.Second},
	} {
		t.Run(tc.line, func(t *testing.T) {
			var c Scanner
			if _, err := Load(writeConf(t, "skydns-scanner.conf", "["+tc.section+"]\n"+tc.line+"\n"), &c, nil); err != nil {
				t.Fatal(err)
			}
			if got := tc.get(&c); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAliases(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dst      any
		content  string
		get      func(dst any) any
		want     any
		warnings []string
	}{
		{
			name: "etcd-machine", dst: new(DNS),
			content: "[Etcd]\netcd-machine = http://192.0.2.1:2379,http://192.0.2.2:2379\n",
			get:     func(d any) any { return d.(*DNS).Etcd.Servers },
			want:    []string{"http://192.0.2.1:2379", "http://192.0.2.2:2379"},
		},
		{
			name: "key wins over alias", dst: new(DNS),
			content:  "[Etcd]\netcd-machine = http://old:2379\netcd-servers = http://new:2379\n",
			get:      func(d any) any { return d.(*DNS).Etcd.Servers },
			want:     []string{"http://new:2379"},
			warnings: []string{"f.conf [Etcd] etcd-machine: ignored, [Etcd] etcd-servers is set"},
		},
		{
			name: "hone-one", dst: new(DNS), content: "[Fun]\nhone-one = true\n",
			get: func(d any) any { return d.(*DNS).Fun.HoldOne }, want: true,
		},
		{
			name: "hold-one", dst: new(DNS), content: "[Fun]\nhold-one = yes\n",
			get: func(d any) any { return d.(*DNS).Fun.HoldOne }, want: true,
		},
		{
			name: "min-ttl", dst: new(DNS), content: "[Dns]\nmin-ttl = 4\n",
			get: func(d any) any { return d.(*DNS).DNS.HealthTTLCap }, want: 4 * time.Second,
		},
		{
			name: "agent-path", dst: new(Scanner), content: "[Etcd]\nagent-path = /x/agent/\n",
			get: func(d any) any { return d.(*Scanner).Etcd.HeartPath }, want: "/x/agent/",
		},
		{
			name: "agent-path schedule", dst: new(Schedule), content: "[Etcd]\nagent-path = /x/agent/\n",
			get: func(d any) any { return d.(*Schedule).Etcd.HeartPath }, want: "/x/agent/",
		},
		{
			name: "etcd-server in General", dst: new(API), content: "[General]\netcd-server = http://192.0.2.9:2379\n",
			get: func(d any) any { return d.(*API).Etcd.Servers }, want: []string{"http://192.0.2.9:2379"},
		},
		{
			name: "Etcd section wins over General", dst: new(API),
			content:  "[General]\netcd-server = http://old:2379\n[Etcd]\netcd-servers = http://new:2379\n",
			get:      func(d any) any { return d.(*API).Etcd.Servers },
			want:     []string{"http://new:2379"},
			warnings: []string{"f.conf [General] etcd-server: ignored, [Etcd] etcd-servers is set"},
		},
		{
			name: "log keys in General", dst: new(API), content: "[General]\nlog-dir = /var/log/skydns\nlog-level = 0\n",
			get: func(d any) any { return d.(*API).Log }, want: Log{Level: "0", Format: "text", Dir: "/var/log/skydns"},
		},
		{
			name: "etcd-server is not an alias outside skydns-api.conf", dst: new(Scanner),
			content:  "[General]\netcd-server = http://192.0.2.9:2379\n",
			get:      func(d any) any { return d.(*Scanner).Etcd.Servers },
			want:     []string{"http://127.0.0.1:2379"},
			warnings: []string{"f.conf [General] etcd-server: unknown key, ignored"},
		},
		{
			name: "etcd TLS and log-to-stdio in the API's General", dst: new(API),
			content: "[General]\netcd-cafile = /c\netcd-certfile = /p\netcd-keyfile = /k\nlog-to-stdio = true\n",
			get: func(d any) any {
				a := d.(*API)
				return []any{a.Etcd.CAFile, a.Etcd.CertFile, a.Etcd.KeyFile, a.Log.ToStdio}
			},
			want: []any{"/c", "/p", "/k", true},
		},
		{
			name: "scanner's TLS names and General log keys", dst: new(Scanner),
			content: "[General]\nlog-dir = /l\nlog-level = warn\n[Etcd]\ntls-pem = /p\ntls-key = /k\nca-cert = /c\n",
			get: func(d any) any {
				s := d.(*Scanner)
				return []any{s.Log.Dir, s.Log.Level, s.Etcd.CertFile, s.Etcd.KeyFile, s.Etcd.CAFile}
			},
			want: []any{"/l", "warn", "/p", "/k", "/c"},
		},
		{
			name: "schedule's General log keys", dst: new(Schedule), content: "[General]\nlog-dir = /l\nlog-level = debug\n",
			get:  func(d any) any { return []string{d.(*Schedule).Log.Dir, d.(*Schedule).Log.Level} },
			want: []string{"/l", "debug"},
		},
		{
			name: "names are case-insensitive", dst: new(DNS), content: "[dns]\nCACHESIZE = 5\n",
			get: func(d any) any { return d.(*DNS).DNS.CacheSize }, want: 5,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := Load(writeConf(t, "f.conf", tc.content), tc.dst, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(tc.dst); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings %q, want %q", warnings, tc.warnings)
			}
		})
	}
}

func TestOverrides(t *testing.T) {
	path := writeConf(t, "skydns.conf", "[Dns]\ndns-addr = 127.0.0.1:5300\ncacheSize = 10\n")
	var d DNS
	warnings, err := Load(path, &d, []string{
		"Dns.dns-addr=127.0.0.1:1053",
		"dns.cacheSize = 20",
		"Dns.cacheSize=30", // the last one wins
		"Etcd.etcd-machine=http://a:2379,http://b:2379",
		"Fun.hold-one=true",
		"Dns.dns-domains=a.%b.",
		"Stats.statsServerAuthToken=x=y",
		"Dns.ex-nameservers=",
	})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("Load: %v, warnings %q", err, warnings)
	}
	if d.DNS.Addr != "127.0.0.1:1053" || d.DNS.CacheSize != 30 || !d.Fun.HoldOne ||
		!reflect.DeepEqual(d.Etcd.Servers, []string{"http://a:2379", "http://b:2379"}) ||
		!reflect.DeepEqual(d.DNS.Domains, []string{"a.", "b."}) ||
		d.Stats.AuthToken != "x=y" || d.DNS.Nameservers != nil {
		t.Errorf("got %+v", d)
	}

	// Overrides work without a file, and an empty scalar resets it.
	var s Scanner
	warnings, err = Load("", &s, []string{"Check.rise=5", "Check.rise="})
	if err != nil {
		t.Fatal(err)
	}
	if s.Check.Rise != 2 {
		t.Errorf("rise = %d, want the default 2", s.Check.Rise)
	}
	if want := []string{"-set [Check] rise: empty value, default 2 used"}; !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings %q, want %q", warnings, want)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string // name of the file
		content   string
		overrides []string
		dst       any
		want      string
	}{
		{"missing port", "skydns.conf", "[Dns]\ndns-addr = 127.0.0.1\n", nil, new(DNS),
			"skydns.conf [Dns] dns-addr: missing port"},
		{"ipv6 without brackets", "skydns.conf", "[Dns]\ndns-addr = ::1\n", nil, new(DNS),
			"skydns.conf [Dns] dns-addr: missing port (write an IPv6 address in brackets, e.g. [::1]:53)"},
		{"bad port", "skydns.conf", "[Dns]\ndns-addr = :domain\n", nil, new(DNS),
			`skydns.conf [Dns] dns-addr: bad port "domain": want 1-65535`},
		{"bad duration", "skydns.conf", "[Dns]\nttl = 3x\n", nil, new(DNS),
			`skydns.conf [Dns] ttl: bad duration "3x": want seconds (e.g. 3) or a Go duration (e.g. 1500ms, 2s)`},
		{"bad ms duration", "skydns-scanner.conf", "[Check]\nping-timeout = soon\n", nil, new(Scanner),
			`skydns-scanner.conf [Check] ping-timeout: bad duration "soon": want milliseconds (e.g. 500) or a Go duration (e.g. 500ms, 1s)`},
		{"bad bool", "skydns.conf", "[Fun]\nrandom-one = maybe\n", nil, new(DNS),
			`skydns.conf [Fun] random-one: not a bool: "maybe" (want true/false, yes/no, on/off or 1/0)`},
		{"non-numeric int", "skydns.conf", "[Dns]\ncacheSize = lots\n", nil, new(DNS),
			`skydns.conf [Dns] cacheSize: not an integer: "lots"`},
		{"int out of range", "skydns-api.conf", "[SkydnsApi]\napi-max-body = 99999999999999999999\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-max-body: out of range: "99999999999999999999"`},
		{"unknown log level", "skydns.conf", "[Log]\nlog-level = verbose\n", nil, new(DNS),
			`skydns.conf [Log] log-level: unknown log level "verbose" (want debug, info, warn, error or 0-3)`},
		{"log level in General", "skydns-api.conf", "[General]\nlog-level = verbose\n", nil, new(API),
			`skydns-api.conf [General] log-level: unknown log level "verbose" (want debug, info, warn, error or 0-3)`},
		{"error names the alias written", "skydns.conf", "[Dns]\nmin-ttl = 1.5\n", nil, new(DNS),
			"skydns.conf [Dns] min-ttl: must be whole seconds, got 1.5s"},
		{"error names the section as written", "skydns.conf", "[DNS]\ncachesize = -1\n", nil, new(DNS),
			"skydns.conf [DNS] cachesize: must be at least 0, got -1"},
		{"log format", "skydns.conf", "[Log]\nlog-format = xml\n", nil, new(DNS),
			`skydns.conf [Log] log-format: unknown value "xml" (want text, json)`},
		{"zero interval", "skydns-scanner.conf", "[Check]\ncheck-interval = 0\n", nil, new(Scanner),
			"skydns-scanner.conf [Check] check-interval: must be more than 0, got 0s"},
		{"rise", "skydns-scanner.conf", "[Check]\nrise = 0\n", nil, new(Scanner),
			"skydns-scanner.conf [Check] rise: must be at least 1, got 0"},
		{"fall", "skydns-scanner.conf", "[Check]\nfall = 0\n", nil, new(Scanner),
			"skydns-scanner.conf [Check] fall: must be at least 1, got 0"},
		{"bad port list", "skydns-scanner.conf", "[Check]\nscann-ports = 80,http\n", nil, new(Scanner),
			`skydns-scanner.conf [Check] scann-ports: bad port "http": want 1-65535`},
		{"replicas", "skydns-schedule.conf", "[General]\nreplicas = 0\n", nil, new(Schedule),
			"skydns-schedule.conf [General] replicas: must be at least 1, got 0"},
		{"lock path", "skydns-schedule.conf", "[Etcd]\nlock-path = lock\n", nil, new(Schedule),
			`skydns-schedule.conf [Etcd] lock-path: must start with /, got "lock"`},
		{"descend zone not served", "skydns.conf", "[Dns]\ndns-domains = skydns.local\ndescend-zones = skydns.local.,other.test\n", nil, new(DNS),
			`skydns.conf [Dns] descend-zones: "other.test" is not in dns-domains`},
		{"all-down", "skydns.conf", "[Dns]\nall-down = some\n", nil, new(DNS),
			`skydns.conf [Dns] all-down: unknown value "some" (want all, none, servfail)`},
		{"client mask", "skydns.conf", "[Dns]\nclient-mask-v4 = 33\n", nil, new(DNS),
			"skydns.conf [Dns] client-mask-v4: must be 0-32, got 33"},
		{"recursion CIDR", "skydns.conf", "[Dns]\nallow-recursion = 192.0.2.0/33\n", nil, new(DNS),
			`skydns.conf [Dns] allow-recursion: bad CIDR "192.0.2.0/33"`},
		{"PTR CIDR", "skydns.conf", "[Dns]\nallow-ptr = allow-recursions\n", nil, new(DNS),
			`skydns.conf [Dns] allow-ptr: bad CIDR "allow-recursions" (or the word allow-recursion)`},
		{"forwarder", "skydns.conf", "[Dns]\nex-nameservers = dns.google\n", nil, new(DNS),
			`skydns.conf [Dns] ex-nameservers: bad server "dns.google": want an IP address, optionally with :port`},
		{"stub zones", "skydns.conf", "[Dns]\ninDomainServers = a.b\n", nil, new(DNS),
			`skydns.conf [Dns] inDomainServers: stub zone entry "a.b": want zone@ip:port[,ip:port]`},
		{"domain", "skydns.conf", "[Dns]\ndns-domains = a..b.\n", nil, new(DNS),
			`skydns.conf [Dns] dns-domains: bad domain "a..b.": empty label`},
		{"no domains", "skydns.conf", "[Dns]\ndns-domains =\n", nil, new(DNS),
			"skydns.conf [Dns] dns-domains: empty, want at least one domain"},
		{"both fun modes", "skydns.conf", "[Fun]\nrandom-one = 1\nhold-one = 1\n", nil, new(DNS),
			"skydns.conf [Fun] random-one: cannot be true together with hone-one"},
		{"etcd url", "skydns.conf", "[Etcd]\netcd-servers = ftp://x:1\n", nil, new(DNS),
			`skydns.conf [Etcd] etcd-servers: bad server "ftp://x:1": scheme "ftp": want http or https`},
		{"embedded mixed", "skydns.conf", "[Etcd]\netcd-servers = embedded,http://x:2379\n", nil, new(DNS),
			"skydns.conf [Etcd] etcd-servers: embedded cannot be combined with other servers"},
		{"embedded client addr", "skydns.conf", "[Etcd]\netcd-servers = embedded\nembedded-client-addr = 127.0.0.1\n", nil, new(DNS),
			"skydns.conf [Etcd] embedded-client-addr: missing port"},
		{"tls half", "skydns.conf", "[Etcd]\netcd-certfile = /c.pem\n", nil, new(DNS),
			"skydns.conf [Etcd] etcd-keyfile: empty, but etcd-certfile is set"},
		{"sync lock ttl", "skydns-api.conf", "[Kube2Skydns]\nlock-ttl = 1500ms\n", nil, new(API),
			"skydns-api.conf [Kube2Skydns] lock-ttl: must be whole seconds, got 1.5s"},
		{"sync lock ttl zero", "skydns-api.conf", "[Kube2Skydns]\nlock-ttl = 0\n", nil, new(API),
			"skydns-api.conf [Kube2Skydns] lock-ttl: must be at least 1s, got 0s"},
		{"sync site not a label", "skydns-api.conf", "[Kube2Skydns]\nsite = Data Centre 1\n", nil, new(API),
			`skydns-api.conf [Kube2Skydns] site: must be a lower-case DNS label ([a-z0-9], inner '-', at most 63 characters) or empty, got "Data Centre 1"`},
		{"scanner site not a label", "skydns-scanner.conf", "[General]\nsite = sh.\n", nil, new(Scanner),
			`skydns-scanner.conf [General] site: must be a lower-case DNS label ([a-z0-9], inner '-', at most 63 characters) or empty, got "sh."`},
		{"api metrics addr", "skydns-api.conf", "[General]\nmetrics-addr = 127.0.0.1\n", nil, new(API),
			"skydns-api.conf [General] metrics-addr: missing port"},
		{"api tls half", "skydns-api.conf", "[SkydnsApi]\napi-tls-key = /k.pem\n", nil, new(API),
			"skydns-api.conf [SkydnsApi] api-tls-cert: empty, but api-tls-key is set"},
		// Zones whose keys overlap SkyDNS's own data (issue 15, item 6).
		{"api zone monitor", "skydns-api.conf", "[SkydnsApi]\napi-domains = skydns.local,monitor\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-domains: zone "monitor" is stored under /skydns/monitor/, which overlaps /skydns/monitor/ (SkyDNS's own monitor/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"api zone below monitor", "skydns-api.conf", "[SkydnsApi]\napi-domains = lock.monitor.\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-domains: zone "lock.monitor." is stored under /skydns/monitor/lock/, which overlaps /skydns/monitor/ (SkyDNS's own monitor/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"api zone policy", "skydns-api.conf", "[SkydnsApi]\napi-domains = POLICY\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-domains: zone "POLICY" is stored under /skydns/policy/, which overlaps /skydns/policy/ (SkyDNS's own policy/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"api zone with another prefix", "skydns-api.conf", "[Etcd]\netcd-prefix = /dns/\n[SkydnsApi]\napi-domains = events\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-domains: zone "events" is stored under /dns/events/, which overlaps /dns/events/ (SkyDNS's own events/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"kube zone topology", "skydns-api.conf", "[Kube2Skydns]\nkube-domain = a.topology.\n", nil, new(API),
			`skydns-api.conf [Kube2Skydns] kube-domain: zone "a.topology." is stored under /skydns/topology/a/, which overlaps /skydns/topology/ (SkyDNS's own topology/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"api zone holds override-path", "skydns-api.conf", "[General]\noverride-path = /skydns/local/skydns/ovr/\n", nil, new(API),
			`skydns-api.conf [SkydnsApi] api-domains: zone "skydns.local." is stored under /skydns/local/skydns/, which overlaps /skydns/local/skydns/ovr/ (override-path): records written there could forge SkyDNS's own data; use a zone outside it` + "\n" +
				`skydns-api.conf [Kube2Skydns] kube-domain: zone "skydns.local." is stored under /skydns/local/skydns/, which overlaps /skydns/local/skydns/ovr/ (override-path): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"dns zone monitor", "skydns.conf", "[Dns]\ndns-domains = skydns.local%agent.monitor\n", nil, new(DNS),
			`skydns.conf [Dns] dns-domains: zone "agent.monitor" is stored under /skydns/monitor/agent/, which overlaps /skydns/monitor/ (SkyDNS's own monitor/ under etcd-prefix): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"dns zone holds ip-monitor-path", "skydns.conf", "[Dns]\ndns-domains = health\nip-monitor-path = /skydns/health/status\n", nil, new(DNS),
			`skydns.conf [Dns] dns-domains: zone "health" is stored under /skydns/health/, which overlaps /skydns/health/status/ (ip-monitor-path): records written there could forge SkyDNS's own data; use a zone outside it`},
		{"override error names -set", "skydns.conf", "", []string{"Dns.dns-addr=localhost"}, new(DNS),
			"-set [Dns] dns-addr: missing port"},
		{"override type error", "", "", []string{"Check.rise=high"}, new(Scanner),
			`-set [Check] rise: not an integer: "high"`},
		{"override unknown key", "skydns.conf", "", []string{"Dns.nope=1"}, new(DNS),
			"-set [Dns] nope: unknown key"},
		{"override unknown section", "skydns.conf", "", []string{"Nope.x=1"}, new(DNS),
			"-set [Nope] x: unknown section"},
		{"override syntax", "skydns.conf", "", []string{"dns-addr=1"}, new(DNS),
			`-set "dns-addr=1": want Section.key=value`},
		{"several errors", "skydns.conf", "[Dns]\ncacheSize = x\nttl = y\n", nil, new(DNS),
			"skydns.conf [Dns] cacheSize: not an integer: \"x\"\n" +
				"skydns.conf [Dns] ttl: bad duration \"y\": want seconds (e.g. 3) or a Go duration (e.g. 1500ms, 2s)"},
		{"several validation errors", "skydns-scanner.conf", "[Check]\nrise = 0\nfall = 0\n", nil, new(Scanner),
			"skydns-scanner.conf [Check] rise: must be at least 1, got 0\n" +
				"skydns-scanner.conf [Check] fall: must be at least 1, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConf(t, tc.file, tc.content)
			}
			_, err := Load(path, tc.dst, tc.overrides)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestFieldErrorAs(t *testing.T) {
	var d DNS
	_, err := Load(writeConf(t, "skydns.conf", "[Dns]\ndns-addr = x\n"), &d, nil)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v is not a *FieldError", err)
	}
	if *fe != (FieldError{File: "skydns.conf", Section: "Dns", Key: "dns-addr", Msg: "missing port"}) {
		t.Errorf("got %+v", *fe)
	}
}

func TestValidateWithoutLoad(t *testing.T) {
	d := wantDNS
	d.DNS.Addr = "nowhere"
	if err := d.Validate(); err == nil || err.Error() != "[Dns] dns-addr: missing port" {
		t.Errorf("got %v", err)
	}
	for _, v := range []interface{ Validate() error }{wantDNS, wantAPI, wantScanner, wantSchedule} {
		if err := v.Validate(); err != nil {
			t.Errorf("%T defaults: %v", v, err)
		}
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "skydns.conf")
	_, err := Load(path, new(DNS), nil)
	want := "skydns.conf: open " + path + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("not fs.ErrNotExist")
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Load(writeConf(t, "skydns.conf", "[Dns]\njust-a-word\n"), new(DNS), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "skydns.conf: ") {
		t.Fatalf("got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	content := `top = 1
[Dns]
dns-addr = 127.0.0.1:53
old-key = 1
cacheSize =
[Gone]
a = 1
b = 2
[Fun]
hold-one = false
`
	warnings, err := Load(writeConf(t, "skydns.conf", content), new(DNS), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"skydns.conf top: key outside any section, ignored",
		"skydns.conf [Dns] old-key: unknown key, ignored",
		"skydns.conf [Gone]: unknown section, ignored",
		"skydns.conf [Dns] cacheSize: empty value, default 100000 used",
	}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings\n%q\nwant\n%q", warnings, want)
	}
}

func TestLoadBadDestination(t *testing.T) {
	var d DNS
	for _, dst := range []any{d, nil, (*DNS)(nil), new(int)} {
		if _, err := Load("", dst, nil); err == nil {
			t.Errorf("Load(%T) succeeded", dst)
		}
	}
	type noDefault struct {
		S struct {
			X int `ini:"x" help:"h"`
		} `ini:"S"`
	}
	if _, err := Load("", new(noDefault), nil); err == nil || !strings.Contains(err.Error(), "no default tag") {
		t.Errorf("got %v", err)
	}
	type badDefault struct {
		S struct {
			X int `ini:"x" default:"" help:"h"`
		} `ini:"S"`
	}
	if _, err := Load("", new(badDefault), nil); err == nil || !strings.Contains(err.Error(), `default ""`) {
		t.Errorf("got %v", err)
	}
}

func TestHelpers(t *testing.T) {
	d := wantDNS.DNS
	d.Domains = []string{"Example.COM", "b."}
	d.Nameservers = []string{"8.8.8.8", "1.1.1.1:5353", "::1", "[2001:db8::1]:53"}
	d.StubZones = "x.example.com@192.0.2.1"
	if got, want := d.Zones(), []string{"example.com.", "b."}; !reflect.DeepEqual(got, want) {
		t.Errorf("Zones %q", got)
	}
	if got, want := d.Forwarders(), []string{"8.8.8.8:53", "1.1.1.1:5353", "[::1]:53", "[2001:db8::1]:53"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Forwarders %q", got)
	}
	if got := d.StubZoneMap(); !reflect.DeepEqual(got, map[string][]string{"x.example.com.": {"192.0.2.1:53"}}) {
		t.Errorf("StubZoneMap %v", got)
	}
	if got := d.RecursionPrefixes(); len(got) != 2 || got[0].String() != "127.0.0.0/8" || got[1].String() != "::1/128" {
		t.Errorf("RecursionPrefixes %v", got)
	}
	for _, tc := range []struct {
		allow []string
		want  string
	}{
		{[]string{"allow-recursion"}, "[127.0.0.0/8 ::1/128]"},
		{[]string{"192.0.2.0/24", "allow-recursion"}, "[192.0.2.0/24 127.0.0.0/8 ::1/128]"},
		{[]string{"2001:db8::1"}, "[2001:db8::1/128]"},
		{nil, "[]"},
	} {
		d.AllowPTR = tc.allow
		if got := fmt.Sprint(d.PTRPrefixes()); got != tc.want {
			t.Errorf("PTRPrefixes of %q: %s, want %s", tc.allow, got, tc.want)
		}
	}
	e := wantEtcd
	if e.Embedded() {
		t.Error("default etcd is embedded")
	}
	e.Servers = []string{"embedded"}
	if !e.Embedded() {
		t.Error("embedded not seen")
	}
	if err := (DNS{DNS: wantDNS.DNS, Stats: wantDNS.Stats, Etcd: e, Log: wantLog}).Validate(); err != nil {
		t.Errorf("embedded: %v", err)
	}
	for in, want := range map[string]string{"debug": "DEBUG", "0": "DEBUG", "INFO": "INFO", "1": "INFO", "warn": "WARN", "warning": "WARN", "2": "WARN", "error": "ERROR", "3": "ERROR"} {
		if got := (Log{Level: in}).SlogLevel().String(); got != want {
			t.Errorf("level %q = %s, want %s", in, got, want)
		}
	}
	if Hostname("given") != "given" || Hostname("") == "" {
		t.Error("Hostname")
	}
}

// A zone next to SkyDNS's own subtrees is fine: only overlap is refused.
func TestZonesBesideOwnData(t *testing.T) {
	d := wantDNS
	d.DNS.Domains = []string{"monitoring", "policy.example.org", "skydns.local.", "events-x"}
	if err := d.Validate(); err != nil {
		t.Errorf("DNS: %v", err)
	}
	a := wantAPI
	a.API.Domains = []string{"monitoring", "x.policy-y"}
	if err := a.Validate(); err != nil {
		t.Errorf("API: %v", err)
	}
}
