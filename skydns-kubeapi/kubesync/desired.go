package kubesync

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// Want is one record the sync publishes for a service.
type Want struct {
	Name   string
	Record record.Record
}

// Desired is everything the sync publishes for one service.
type Desired struct {
	Records []Want
	// Policy of the service's name; nil for none.
	Policy *policy.Policy
	// Problems are annotation values and names that were skipped.
	Problems []string
}

// ServiceName is the DNS name of a service: <svc>.<ns>.svc.<domain>.
func ServiceName(namespace, name, domain string) string {
	return name + "." + namespace + ".svc." + domain
}

// meta is the provenance the sync stamps on its records.
type meta struct {
	cluster, user string
	site          string // [Kube2Skydns] site: the cluster's site, "" for none
}

func (m meta) record(t record.Record) record.Record {
	t.Source, t.Cluster, t.User = store.SourceKube, m.cluster, m.user
	if t.Type == record.TypeA || t.Type == record.TypeAAAA {
		t.Site = m.site // only an address is in a site, as the API writes it
	}
	return t
}

// desiredFor computes the records and policy of svc. slices are the
// service's EndpointSlices (only a headless service uses them).
func desiredFor(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, domain string, publishClusterIP bool, m meta) Desired {
	var d Desired
	ann := parseAnnotations(svc.Annotations)
	d.Problems = ann.problems
	if !ann.publish {
		return d
	}
	if ann.publishClusterIP != nil {
		publishClusterIP = *ann.publishClusterIP
	}
	name, err := record.NormalizeName(ServiceName(svc.Namespace, svc.Name, domain))
	if err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("service name: %v", err))
		return d
	}
	add := func(owner string, r record.Record) {
		r = m.record(r)
		if _, _, err := store.Normalize(r); err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("%s: %v", owner, err))
			return
		}
		d.Records = append(d.Records, Want{Name: owner, Record: r})
	}
	addAddr := func(owner string, ip netip.Addr) {
		t := record.TypeA
		if ip.Is6() {
			t = record.TypeAAAA
		}
		add(owner, record.Record{Type: t, Host: ip.String()})
	}
	sub := func(label string) (string, bool) {
		n, err := record.NormalizeName(label + "." + name)
		if err != nil {
			d.Problems = append(d.Problems, fmt.Sprintf("name %s.%s: %v", label, name, err))
			return "", false
		}
		return n, true
	}

	var checkPorts []int
	switch {
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		if target, err := record.NormalizeName(svc.Spec.ExternalName); err == nil && svc.Spec.ExternalName != "" {
			add(name, record.Record{Type: record.TypeCNAME, Host: target})
		} else {
			d.Problems = append(d.Problems, fmt.Sprintf("externalName %q is not a valid name", svc.Spec.ExternalName))
		}
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		checkPorts = headless(svc, slices, name, add, addAddr, sub)
	default:
		ips := serviceIPs(svc, publishClusterIP)
		for _, ip := range ips {
			addAddr(name, ip)
		}
		if len(ips) == 0 {
			// A load balancer known only by name (as some clouds give) is
			// published as a CNAME, which needs the name to itself.
			for _, ing := range svc.Status.LoadBalancer.Ingress {
				if ing.Hostname != "" {
					if target, err := record.NormalizeName(ing.Hostname); err == nil {
						add(name, record.Record{Type: record.TypeCNAME, Host: target})
						break
					}
				}
			}
		}
		for _, p := range svc.Spec.Ports {
			if protocol(p.Protocol) == "tcp" {
				checkPorts = append(checkPorts, int(p.Port))
			}
			if p.Name == "" || len(ips) == 0 {
				continue
			}
			if owner, ok := sub("_" + p.Name + "._" + protocol(p.Protocol)); ok {
				add(owner, record.Record{Type: record.TypeSRV, Host: name, Port: int(p.Port), Weight: 10})
			}
		}
	}
	if len(d.Records) > 0 {
		// A policy only for a name that is served.
		d.Policy = ann.policy(uniqueSorted(checkPorts))
	}
	return d
}

// headless publishes the ready endpoints of a headless service: their
// addresses at the service's name, and for each named port an SRV record
// per endpoint whose target is <hostname or IP label>.<name>. It returns
// the TCP ports to probe.
func headless(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, name string,
	add func(string, record.Record), addAddr func(string, netip.Addr), sub func(string) (string, bool)) []int {
	var ports []int
	// Slices in a stable order, so the same state always yields the same
	// records in the same order.
	sorted := append([]*discoveryv1.EndpointSlice(nil), slices...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, sl := range sorted {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 && sl.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, p := range sl.Ports {
			if p.Port != nil && (p.Protocol == nil || protocol(*p.Protocol) == "tcp") {
				ports = append(ports, int(*p.Port))
			}
		}
		for _, ep := range sl.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := record.ParseIP(a)
				if err != nil {
					continue
				}
				addAddr(name, ip)
				label := store.IPLabel(ip)
				if ep.Hostname != nil && *ep.Hostname != "" {
					label = *ep.Hostname
				}
				named := false
				for _, p := range sl.Ports {
					if p.Name == nil || *p.Name == "" || p.Port == nil {
						continue
					}
					proto := corev1.ProtocolTCP
					if p.Protocol != nil {
						proto = *p.Protocol
					}
					owner, ok := sub("_" + *p.Name + "._" + protocol(proto))
					if !ok {
						continue
					}
					named = true
					add(owner, record.Record{Type: record.TypeSRV, Host: label + "." + name, Port: int(*p.Port), Weight: 10})
				}
				if named || ep.Hostname != nil && *ep.Hostname != "" {
					if target, ok := sub(label); ok {
						addAddr(target, ip)
					}
				}
			}
		}
	}
	return ports
}

// serviceIPs are the addresses a non-headless service is published with.
func serviceIPs(svc *corev1.Service, clusterIP bool) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	addStr := func(s string) {
		ip, err := record.ParseIP(s)
		if err != nil || ip.IsUnspecified() {
			return
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	for _, s := range svc.Spec.ExternalIPs {
		addStr(s)
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		addStr(ing.IP)
	}
	if clusterIP {
		for _, s := range svc.Spec.ClusterIPs {
			addStr(s)
		}
		if len(svc.Spec.ClusterIPs) == 0 {
			addStr(svc.Spec.ClusterIP)
		}
	}
	return out
}

// protocol is a port's protocol as an SRV label: tcp, udp or sctp.
func protocol(p corev1.Protocol) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(string(p))
}

func uniqueSorted(ports []int) []int {
	slices.Sort(ports)
	return slices.Compact(ports)
}
