package config

import (
	"strings"
	"time"
)

// API is the configuration of skydns-kubeapi (skydns-api.conf).
//
// The original file kept etcd-server, log-dir and log-level in [General];
// they are still read there, into Etcd and Log, when [Etcd] and [Log] do
// not set the same key.
type API struct {
	General APIGeneral  `ini:"General"`
	Kube    KubeSection `ini:"Kube2Skydns"`
	API     APISection  `ini:"SkydnsApi"`
	Etcd    Etcd        `ini:"Etcd" alias:"etcd-servers=General.etcd-server,etcd-cafile=General.etcd-cafile,etcd-certfile=General.etcd-certfile,etcd-keyfile=General.etcd-keyfile"`
	Log     Log         `ini:"Log" alias:"log-dir=General.log-dir,log-level=General.log-level,log-to-stdio=General.log-to-stdio"`
}

// APIGeneral is [General] of skydns-api.conf.
type APIGeneral struct {
	Host          string `ini:"host" default:"" help:"name of this host in logs and in records it owns; empty: the OS hostname"`
	IPMonitorPath string `ini:"ip-monitor-path" default:"/skydns/monitor/status/" help:"etcd directory of each IP's health status, shown with records; must equal status-path of skydns-schedule.conf"`
	OverridePath  string `ini:"override-path" default:"/skydns/monitor/override/" help:"etcd directory of the per-IP health overrides that the API's /skydns/overrides routes write and show; must equal override-path of skydns-schedule.conf"`
	ClusterName   string `ini:"cluster-name" default:"default" help:"name of this cluster, kept with the records it writes so several clusters can share one etcd"`
	MaxTxnOps     int    `ini:"etcd-max-txn-ops" default:"0" help:"operations etcd accepts in one transaction (its --max-txn-ops); an API request that needs more is refused with 413 and the Kubernetes sync splits its work into transactions of this size; 0: 128, etcd's default"`
	// With api-enable, /metrics is served on api-address instead, so that
	// an instance keeps one listener.
	MetricsAddr string `ini:"metrics-addr" default:"127.0.0.1:9156" help:"address of the /metrics, /healthz and /readyz listener of an instance with api-enable = false, host:port; with api-enable they are served on api-address and this key is unused; empty: no listener"`
	History
}

// KubeSection is [Kube2Skydns] of skydns-api.conf.
type KubeSection struct {
	Enable           bool   `ini:"kube-enable" default:"false" help:"publish Kubernetes services as DNS records"`
	Domain           string `ini:"kube-domain" default:"skydns.local." help:"zone under which services are published, as <service>.<namespace>.<kube-domain>"`
	ConfigFile       string `ini:"kube-config-file" default:"" help:"kubeconfig file for the Kubernetes API; empty: in-cluster service account"`
	PublishClusterIP bool   `ini:"kube-publish-cluster-ip" default:"false" help:"also publish a service's ClusterIP; false: only its external IPs and load-balancer ingress IPs (headless services always publish their ready endpoints)"`
	// The syncs of one cluster-name elect a leader on a lease; only the
	// leader writes, and a leader that dies without resigning is replaced
	// once its lease expires.
	LockTTL time.Duration `ini:"lock-ttl" unit:"s" default:"10s" help:"TTL of the sync leader's etcd lease, whole seconds: the syncs with one cluster-name elect one leader, the only one that writes, and a leader that dies without stepping down is replaced within this time"`
	Site    string        `ini:"site" default:"" help:"the site (a lower-case DNS label, a key under <etcd-prefix>/topology/) the whole cluster is in, written as the site field of every address record the sync writes; empty: none, each IP is placed by the sites' networks"`
}

// APISection is [SkydnsApi] of skydns-api.conf.
type APISection struct {
	Enable     bool     `ini:"api-enable" default:"true" help:"serve the HTTP API that edits records"`
	Domains    []string `ini:"api-domains" sep:"%," default:"skydns.local." help:"zones the API may write records in, separated by % or ,"`
	Address    string   `ini:"api-address" default:"127.0.0.1:9001" help:"address the API listens on, host:port"`
	AuthToken  string   `ini:"skydns-auth" default:"" help:"one bearer token with the admin role (every read and write); empty, with no api-tokens-file: the API refuses every write and serves reads only"`
	TLSCert    string   `ini:"api-tls-cert" default:"" help:"certificate for HTTPS; set together with api-tls-key; empty: plain HTTP"`
	TLSKey     string   `ini:"api-tls-key" default:"" help:"private key of api-tls-cert"`
	MaxBody    int64    `ini:"api-max-body" default:"1048576" help:"largest request body accepted, in bytes"`
	OpenReads  bool     `ini:"api-open-reads" default:"false" help:"serve reads (GET) without a token; false: when skydns-auth or api-tokens-file is set, reads need a token (any role) as writes do"`
	TokensFile string   `ini:"api-tokens-file" default:"" help:"file of named tokens with roles (read, operate, write, admin), one per line as <name> <role> <sha256-hex of the secret>; reloaded on SIGHUP; skydns-apicmd -hash-token makes a line; empty: only skydns-auth"`
	// The console at /ui/ shows the DNS server's explanation of an answer
	// by asking its stats listener, as skydns-apicmd -explain does.
	ExplainAddr  string `ini:"explain-addr" default:"" help:"the DNS server's stats listener (its [Stats] statsServer address), host:port, that the console at /ui/ asks for /skydns/explain; empty: the console's explain page says how to enable it"`
	ExplainToken string `ini:"explain-token" default:"" help:"the token of the DNS server's stats listener (its [Stats] statsServerAuthToken), sent with the console's explain requests"`
}

// Validate checks values that parse but cannot work.
func (c API) Validate() error {
	var p problems
	checkEtcdPath(&p, "General", "ip-monitor-path", c.General.IPMonitorPath)
	checkEtcdPath(&p, "General", "override-path", c.General.OverridePath)
	if c.General.ClusterName == "" || strings.ContainsAny(c.General.ClusterName, "/ ") {
		p.add("General", "cluster-name", "must be non-empty without / or spaces, got %q", c.General.ClusterName)
	}
	if n := c.General.MaxTxnOps; n != 0 && n < 16 {
		p.add("General", "etcd-max-txn-ops", "must be 0 (etcd's default of 128) or at least 16, got %d", n)
	}
	checkOptionalAddr(&p, "General", "metrics-addr", c.General.MetricsAddr)
	c.General.History.check(&p, "General")
	if msg := domainProblem(c.Kube.Domain); msg != "" {
		p.add("Kube2Skydns", "kube-domain", "%s", msg)
	}
	checkTTL(&p, "Kube2Skydns", "lock-ttl", c.Kube.LockTTL, time.Second)
	checkSite(&p, "Kube2Skydns", "site", c.Kube.Site)
	const sec = "SkydnsApi"
	checkDomains(&p, sec, "api-domains", c.API.Domains)
	paths := []ownPath{{"ip-monitor-path", c.General.IPMonitorPath}, {"override-path", c.General.OverridePath}}
	checkZonePaths(&p, sec, "api-domains", c.Etcd.Prefix, c.API.Domains, paths...)
	checkZonePaths(&p, "Kube2Skydns", "kube-domain", c.Etcd.Prefix, []string{c.Kube.Domain}, paths...)
	checkAddr(&p, sec, "api-address", c.API.Address)
	if c.API.TLSCert != "" && c.API.TLSKey == "" {
		p.add(sec, "api-tls-key", "empty, but api-tls-cert is set")
	}
	if c.API.TLSKey != "" && c.API.TLSCert == "" {
		p.add(sec, "api-tls-cert", "empty, but api-tls-key is set")
	}
	checkOptionalAddr(&p, sec, "explain-addr", c.API.ExplainAddr)
	if c.API.MaxBody <= 0 {
		p.add(sec, "api-max-body", "must be more than 0, got %d", c.API.MaxBody)
	}
	c.Etcd.check(&p, "Etcd")
	c.Log.check(&p, "Log")
	return p.err()
}
