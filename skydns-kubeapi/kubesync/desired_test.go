package kubesync

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

func ptr[T any](v T) *T { return &v }

// show renders wanted records as "name TYPE value" lines, sorted.
func show(ws []Want) []string {
	var out []string
	for _, w := range ws {
		v := w.Record.Host
		if w.Record.Type == record.TypeSRV {
			v = fmt.Sprintf("%s:%d", w.Record.Host, w.Record.Port)
		}
		out = append(out, w.Name+" "+string(w.Record.Type)+" "+v)
	}
	sort.Strings(out)
	return out
}

func TestDesired(t *testing.T) {
	svc := func(mod func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "198.51.100.210", ClusterIPs: []string{"198.51.100.210"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}},
			},
		}
		mod(s)
		return s
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"192.0.2.2"}, Hostname: ptr("web-1")},
			{Addresses: []string{"192.0.2.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}
	const n = "web.default.svc.kube.local."
	for _, tc := range []struct {
		desc       string
		svc        *corev1.Service
		slices     []*discoveryv1.EndpointSlice
		clusterIP  bool
		want       []string
		wantPorts  []int
		wantPolicy func(*policy.Policy) bool
	}{
		{"cluster IP only: nothing", svc(func(*corev1.Service) {}), nil, false, nil, nil, nil},
		{"cluster IP published", svc(func(*corev1.Service) {}), nil, true,
			[]string{"_http._tcp." + n + " SRV " + n + ":80", n + " A 198.51.100.210"}, []int{80}, nil},
		{"external IPs and load balancer", svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.1"}, {IP: "2001:db8::1"}, {IP: "198.51.100.1"}}
		}), nil, false, []string{
			"_http._tcp." + n + " SRV " + n + ":80",
			n + " A 198.51.100.1", n + " A 203.0.113.1", n + " AAAA 2001:db8::1",
		}, []int{80}, nil},
		{"load balancer by name", svc(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb-1.example.com"}}
		}), nil, false, []string{n + " CNAME lb-1.example.com."}, []int{80}, nil},
		{"external name", svc(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "", "db.example.com"
			s.Spec.Ports = nil
		}), nil, false, []string{n + " CNAME db.example.com."}, nil, nil},
		{"headless", svc(func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", nil }),
			[]*discoveryv1.EndpointSlice{slice}, false, []string{
				"192-0-2-1." + n + " A 192.0.2.1",
				"_http._tcp." + n + " SRV 192-0-2-1." + n + ":8080",
				"_http._tcp." + n + " SRV web-1." + n + ":8080",
				n + " A 192.0.2.1", n + " A 192.0.2.2",
				"web-1." + n + " A 192.0.2.2",
			}, []int{8080}, nil},
		{"headless, not ready published", svc(func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.PublishNotReadyAddresses = "None", true
			s.Spec.Ports = nil
		}), []*discoveryv1.EndpointSlice{slice}, false, []string{
			"192-0-2-1." + n + " A 192.0.2.1", "192-0-2-3." + n + " A 192.0.2.3",
			"_http._tcp." + n + " SRV 192-0-2-1." + n + ":8080",
			"_http._tcp." + n + " SRV 192-0-2-3." + n + ":8080",
			"_http._tcp." + n + " SRV web-1." + n + ":8080",
			n + " A 192.0.2.1", n + " A 192.0.2.2", n + " A 192.0.2.3",
			"web-1." + n + " A 192.0.2.2",
		}, []int{8080}, nil},
		{"annotations", svc(func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
			s.Annotations = map[string]string{
				"skydns.io/mode": "hold-one", "skydns.io/all-down": "fallback", "skydns.io/fallback": "192.0.2.99",
				"skydns.io/check-ports": "8443,8080", "skydns.io/check-http": "/healthz", "skydns.io/ttl": "bogus",
				"skydns.io/check-require": "all",
			}
		}), nil, false, []string{"_http._tcp." + n + " SRV " + n + ":80", n + " A 198.51.100.1"}, []int{8080, 8443},
			func(p *policy.Policy) bool {
				return p.Mode == policy.ModeHoldOne && p.AllDown == policy.AllDownFallback && p.Check.HTTP.Path == "/healthz" &&
					p.Check.Require == policy.RequireAll && p.TTL == 0
			}},
		{"not published", svc(func(s *corev1.Service) {
			s.Spec.ExternalIPs = []string{"198.51.100.1"}
			s.Annotations = map[string]string{"skydns.io/publish": "false"}
		}), nil, false, nil, nil, nil},
		{"cluster IP by annotation", svc(func(s *corev1.Service) {
			s.Annotations = map[string]string{"skydns.io/publish-cluster-ip": "true", "skydns.io/check-ports": "none"}
		}), nil, false, []string{"_http._tcp." + n + " SRV " + n + ":80", n + " A 198.51.100.210"}, nil, nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			d := desiredFor(tc.svc, tc.slices, "kube.local.", tc.clusterIP, meta{cluster: "c1", user: "h"})
			sort.Strings(tc.want)
			if got := show(d.Records); !slices.Equal(got, tc.want) {
				t.Errorf("records\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, w := range d.Records {
				if w.Record.Source != "kube" || w.Record.Cluster != "c1" || w.Record.User != "h" {
					t.Errorf("provenance %+v", w.Record)
				}
			}
			var ports []int
			if d.Policy != nil && d.Policy.Check != nil {
				ports = d.Policy.Check.Ports
			}
			if !slices.Equal(ports, tc.wantPorts) {
				t.Errorf("check ports %v, want %v", ports, tc.wantPorts)
			}
			if tc.wantPolicy != nil && (d.Policy == nil || !tc.wantPolicy(d.Policy)) {
				t.Errorf("policy %+v", d.Policy)
			}
			if tc.desc == "annotations" && (len(d.Problems) != 1 || !strings.Contains(d.Problems[0], "skydns.io/ttl")) {
				t.Errorf("problems %v", d.Problems)
			}
		})
	}
}

func TestServiceKey(t *testing.T) {
	for name, want := range map[string]string{
		"web.default.svc.kube.local.":                    "default/web",
		"_http._tcp.web.default.svc.kube.local.":         "default/web",
		"web-1.web.default.svc.kube.local.":              "default/web",
		"default.svc.kube.local.":                        "!default.svc.kube.local.",
		"web.default.pod.kube.local.":                    "!web.default.pod.kube.local.",
		"web.default.svc.other.local.":                   "!web.default.svc.other.local.",
		"192-0-2-1._x._tcp.db.ns1.svc.kube.local.":       "ns1/db",
		"a.b.svc.kube.local.x.kube.local.":               "!a.b.svc.kube.local.x.kube.local.",
		"very.deep.name.web.default.svc.kube.local.":     "default/web",
		"svc.kube.local.":                                "!svc.kube.local.",
		"kube.local.":                                    "!kube.local.",
		"web.default.svc.kube.local.kube.local.":         "!web.default.svc.kube.local.kube.local.",
		"web.default.svc.svc.kube.local.":                "svc/default",
		"x.web.default.svc.kube.local.":                  "default/web",
		"_dns._udp.kube-dns.kube-system.svc.kube.local.": "kube-system/kube-dns",
	} {
		if got := serviceKey(name, "kube.local."); got != want {
			t.Errorf("serviceKey(%s) = %s, want %s", name, got, want)
		}
	}
}
