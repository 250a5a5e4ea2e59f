package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

func TestFromConfig(t *testing.T) {
	var c config.Scanner
	if _, err := config.Load("", &c, nil); err != nil {
		t.Fatal(err)
	}
	c.General.Hostname = "scan-1"
	c.Check.Ports = []string{"22"}
	got, err := FromConfig(&c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "scan-1" || got.Paths != monitor.DefaultPaths() || got.Interval != 2*time.Second ||
		!reflect.DeepEqual(got.DefaultPorts, []int{80}) || !reflect.DeepEqual(got.ExtraPorts, []int{22}) ||
		!got.ICMP || got.Rise != 2 || got.Fall != 3 || got.MaxThreads != 256 || got.Tries != 1 {
		t.Errorf("FromConfig = %+v", got)
	}
	if got.leaseTTL() != 15 {
		t.Errorf("lease TTL %d, want 3 x 5s", got.leaseTTL())
	}
	if got.RootCAs != nil {
		t.Error("no ca-file, yet roots other than the system's")
	}
	// ca-file: the CAs that tls-verify trusts instead of the system's.
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "bad.pem")
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	for _, tc := range []struct {
		file string
		ok   bool
	}{{good, true}, {bad, false}, {filepath.Join(dir, "missing.pem"), false}} {
		c.Check.CAFile = tc.file
		got, err := FromConfig(&c)
		if (err == nil) != tc.ok || tc.ok && got.RootCAs == nil {
			t.Errorf("ca-file %s: %v, roots %v", tc.file, err, got.RootCAs)
		}
	}
	c.Check.CAFile = ""
	c.General.Hostname = "a/b"
	if _, err := FromConfig(&c); err == nil {
		t.Error("a hostname with a slash was accepted")
	}
}

func TestPlan(t *testing.T) {
	on, off := true, false
	c := Config{ICMP: true, DefaultPorts: []int{80}, ExtraPorts: []int{22}}
	for _, tc := range []struct {
		name string
		spec monitor.Spec
		want probe.Plan
	}{
		{"empty spec: defaults", monitor.Spec{}, probe.Plan{ICMP: true, Ports: []int{22, 80}}},
		{"job ports replace the defaults", monitor.Spec{Ports: []int{8080}}, probe.Plan{ICMP: true, Ports: []int{22, 8080}}},
		{"icmp off", monitor.Spec{ICMP: &off}, probe.Plan{Ports: []int{22, 80}}},
		{"icmp asked for: ping only (and scann-ports)", monitor.Spec{ICMP: &on}, probe.Plan{ICMP: true, Ports: []int{22}}},
		{"icmp asked for, with ports", monitor.Spec{ICMP: &on, Ports: []int{443}}, probe.Plan{ICMP: true, Ports: []int{22, 443}}},
		{"http only: no default ports", monitor.Spec{HTTP: &policy.HTTPCheck{Path: "/h"}},
			probe.Plan{ICMP: true, Ports: []int{22}, HTTP: &policy.HTTPCheck{Scheme: "http", Port: 80, Path: "/h", Expect: 200}}},
		{"dns only: no default ports", monitor.Spec{DNS: &policy.DNSCheck{Name: "h.example."}},
			probe.Plan{ICMP: true, Ports: []int{22}, DNS: &policy.DNSCheck{Port: 53, Name: "h.example.", Type: "A"}}},
		{"grpc only: no default ports", monitor.Spec{GRPC: &policy.GRPCCheck{Port: 9090}},
			probe.Plan{ICMP: true, Ports: []int{22}, GRPC: &policy.GRPCCheck{Port: 9090}}},
		{"require all", monitor.Spec{Require: policy.RequireAll}, probe.Plan{ICMP: true, Ports: []int{22, 80}, RequireAll: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.plan(tc.spec); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan = %+v (http %+v), want %+v", got, got.HTTP, tc.want)
			}
		})
	}
	// Without extra ports the job's slice is used as it is.
	c.ExtraPorts = nil
	if got := c.plan(monitor.Spec{}); !reflect.DeepEqual(got.Ports, []int{80}) {
		t.Errorf("plan = %+v", got)
	}
}
