package kubesync

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/skydns/skydns/internal/policy"
)

// AnnotationPrefix starts every annotation the sync reads. docs/api.md
// lists them.
const AnnotationPrefix = "skydns.io/"

// annotations is what a service's skydns.io/ annotations ask for.
type annotations struct {
	publish          bool
	publishClusterIP *bool
	pol              policy.Policy
	checkPorts       []int // nil: the service's ports
	noCheckPorts     bool  // check-ports: none
	icmp             *bool
	require          policy.Require
	http             *policy.HTTPCheck
	set              bool // some policy annotation was given
	problems         []string
}

// parseAnnotations reads the skydns.io/ annotations. A bad value is
// reported and ignored, so that one typo does not unpublish a service.
func parseAnnotations(m map[string]string) annotations {
	a := annotations{publish: true}
	bad := func(key, val, want string) {
		a.problems = append(a.problems, fmt.Sprintf("annotation %s%s=%q: want %s; ignored", AnnotationPrefix, key, val, want))
	}
	for k, v := range m {
		key, ok := strings.CutPrefix(k, AnnotationPrefix)
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch key {
		case "publish":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(key, v, "true or false")
				continue
			}
			a.publish = b
		case "publish-cluster-ip":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(key, v, "true or false")
				continue
			}
			a.publishClusterIP = &b
		case "mode":
			p := policy.Policy{Mode: policy.Mode(v)}
			if p.Validate() != nil {
				bad(key, v, "all, random, weighted, priority or hold-one")
				continue
			}
			a.pol.Mode, a.set = p.Mode, true
		case "max-answers":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				bad(key, v, "a number of answers, 0 for the default")
				continue
			}
			a.pol.MaxAnswers, a.set = n, true
		case "ttl":
			n, err := strconv.ParseUint(v, 10, 31)
			if err != nil {
				bad(key, v, "seconds, 0-2147483647")
				continue
			}
			a.pol.TTL, a.set = uint32(n), true
		case "all-down":
			switch policy.AllDown(v) {
			case policy.AllDownAll, policy.AllDownNone, policy.AllDownServfail, policy.AllDownFallback:
				a.pol.AllDown, a.set = policy.AllDown(v), true
			default:
				bad(key, v, "all, none, servfail or fallback")
			}
		case "fallback":
			var ips []string
			ok := true
			for _, s := range splitList(v) {
				ip, err := netip.ParseAddr(s)
				if err != nil {
					ok = false
					break
				}
				ips = append(ips, ip.String())
			}
			if !ok {
				bad(key, v, "comma-separated IP addresses")
				continue
			}
			a.pol.Fallback, a.set = ips, true
		case "check-ports":
			if strings.EqualFold(v, "none") {
				a.noCheckPorts, a.set = true, true
				continue
			}
			var ports []int
			ok := true
			for _, s := range splitList(v) {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1 || n > 65535 {
					ok = false
					break
				}
				ports = append(ports, n)
			}
			if !ok || len(ports) == 0 {
				bad(key, v, "comma-separated ports 1-65535, or none")
				continue
			}
			a.checkPorts, a.set = ports, true
		case "check-icmp":
			b, err := strconv.ParseBool(v)
			if err != nil {
				bad(key, v, "true or false")
				continue
			}
			a.icmp, a.set = &b, true
		case "check-require":
			if v != string(policy.RequireAny) && v != string(policy.RequireAll) {
				bad(key, v, "any or all")
				continue
			}
			a.require, a.set = policy.Require(v), true
		case "check-http":
			// http or https, or a path to GET (scheme http).
			h := a.httpCheck()
			switch {
			case v == "http" || v == "https":
				h.Scheme = v
			case strings.HasPrefix(v, "/"):
				h.Path = v
			default:
				bad(key, v, "http, https or a path starting with /")
			}
		case "check-http-port":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				bad(key, v, "a port 1-65535")
				continue
			}
			a.httpCheck().Port = n
		case "check-http-path":
			if !strings.HasPrefix(v, "/") {
				bad(key, v, "a path starting with /")
				continue
			}
			a.httpCheck().Path = v
		case "check-http-host":
			a.httpCheck().Host = v
		case "check-http-expect":
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > 599 {
				bad(key, v, "an HTTP status 100-599")
				continue
			}
			a.httpCheck().Expect = n
		default:
			a.problems = append(a.problems, fmt.Sprintf("annotation %s: unknown; ignored", k))
		}
	}
	if a.pol.AllDown == policy.AllDownFallback && len(a.pol.Fallback) == 0 {
		a.problems = append(a.problems, "annotation "+AnnotationPrefix+"all-down=fallback needs "+AnnotationPrefix+"fallback; ignored")
		a.pol.AllDown = ""
	}
	return a
}

func (a *annotations) httpCheck() *policy.HTTPCheck {
	if a.http == nil {
		a.http = &policy.HTTPCheck{}
	}
	a.set = true
	return a.http
}

// policy is the service's policy: the annotations, and the service's ports
// as what the health checkers probe. nil when there is nothing to say.
func (a annotations) policy(servicePorts []int) *policy.Policy {
	p := a.pol
	ports := servicePorts
	if a.checkPorts != nil {
		ports = uniqueSorted(a.checkPorts)
	}
	if a.noCheckPorts {
		ports = nil
	}
	if len(ports) > 0 || a.icmp != nil || a.http != nil || a.require != "" {
		p.Check = &policy.Check{Ports: ports, ICMP: a.icmp, HTTP: a.http, Require: a.require}
	}
	if !a.set && p.Check == nil {
		return nil
	}
	if p.Validate() != nil {
		// Each value was checked alone; a combination that still fails
		// is dropped whole rather than written half.
		return nil
	}
	return &p
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
