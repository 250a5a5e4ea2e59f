package agent

import (
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
