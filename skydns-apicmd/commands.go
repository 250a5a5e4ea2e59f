package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// maxPages bounds -list, so a server that never ends its listing cannot
// keep the command running forever.
const maxPages = 100000

func list(c *client, o *options, out io.Writer) error {
	after := ""
	for range maxPages {
		q := url.Values{"limit": {"1000"}}
		if after != "" {
			q.Set("after", after)
		}
		var page apitypes.List
		raw, err := c.call("GET", "", q, nil, &page)
		if err != nil {
			return err
		}
		if o.json {
			out.Write(raw)
		} else {
			for _, n := range page.Names {
				printName(out, n)
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
	return fmt.Errorf("the listing did not end after %d pages", maxPages)
}

func show(c *client, o *options, domain string, out io.Writer) error {
	var n apitypes.Name
	raw, err := c.call("GET", url.PathEscape(domain), nil, nil, &n)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
		return nil
	}
	printName(out, n)
	printSites(out, n)
	if p := n.Policy; p != nil {
		b, _ := json.Marshal(p.Policy)
		fmt.Fprintf(out, "domain: %s policy: %s source:%s\n", display(n.Name), b, p.Source)
	}
	return nil
}

func status(c *client, o *options, domain string, out io.Writer) error {
	var n apitypes.Name
	raw, err := c.call("GET", url.PathEscape(domain), nil, nil, &n)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
		return nil
	}
	seen := map[string]bool{}
	line := func(name, ip string, h apitypes.Health) {
		if seen[name+" "+ip] {
			return
		}
		seen[name+" "+ip] = true
		fmt.Fprintf(out, "domain: %s ip: %s status: %s", display(name), ip, h.Status)
		if h.Since != nil {
			fmt.Fprintf(out, " since: %s", h.Since.Format(timeFormat))
		}
		if h.Reason != "" {
			fmt.Fprintf(out, " reason: %q", h.Reason)
		}
		if h.Votes != "" {
			fmt.Fprintf(out, " votes: %s", h.Votes)
		}
		// The default check is every name's without a policy check: only
		// a name's own check is worth a word.
		if h.Check != "" && h.Check != monitor.DefaultCheck {
			fmt.Fprintf(out, " check: %s", h.Check)
			if len(h.CheckSpec) > 0 {
				fmt.Fprintf(out, " %s", h.CheckSpec)
			}
		}
		if h.Override != nil {
			fmt.Fprintf(out, " override: %s", h.Override.Status)
			if h.Override.Expired {
				fmt.Fprint(out, " (expired)")
			}
			if h.Override.Until != nil {
				fmt.Fprintf(out, " until: %s", h.Override.Until.Format(timeFormat))
			}
		}
		fmt.Fprintln(out)
	}
	for _, r := range n.Records {
		if r.Health != nil {
			line(n.Name, r.Host, *r.Health)
		}
		for _, a := range r.Addresses {
			line(a.Name, a.IP, a.Health)
		}
	}
	if len(seen) == 0 {
		fmt.Fprintf(out, "domain: %s has no addresses to check\n", display(n.Name))
	}
	return nil
}

// printName prints a name's records as the original command line did: one
// line per type (and per owner, when not the API).
func printName(out io.Writer, n apitypes.Name) {
	type group struct {
		typ, source string
		vals        []string
	}
	var groups []*group
	find := func(typ, source string) *group {
		for _, g := range groups {
			if g.typ == typ && g.source == source {
				return g
			}
		}
		g := &group{typ: typ, source: source}
		groups = append(groups, g)
		return g
	}
	for _, r := range n.Records {
		source := r.Source
		if source == "api" {
			source = ""
		}
		g := find(r.Type, source)
		switch r.Type {
		case "TXT":
			g.vals = append(g.vals, strconv.Quote(r.Text))
		case "SRV":
			g.vals = append(g.vals, fmt.Sprintf("%s:%d", display(r.Host), r.Port))
		case "MX":
			g.vals = append(g.vals, fmt.Sprintf("%s/%d", display(r.Host), r.Priority))
		default:
			g.vals = append(g.vals, display(r.Host))
		}
	}
	// Types in a fixed order, values sorted, so the output is stable.
	order := map[string]int{"A": 1, "AAAA": 2, "CNAME": 3, "NS": 4, "MX": 5, "SRV": 6, "TXT": 7}
	sort.SliceStable(groups, func(i, j int) bool { return order[groups[i].typ] < order[groups[j].typ] })
	for _, g := range groups {
		sort.Slice(g.vals, func(i, j int) bool {
			a, errA := netip.ParseAddr(g.vals[i])
			b, errB := netip.ParseAddr(g.vals[j])
			if errA == nil && errB == nil {
				return a.Less(b)
			}
			return g.vals[i] < g.vals[j]
		})
		field := map[string]string{"A": "ips", "AAAA": "ips", "CNAME": "alias", "SRV": "targets", "NS": "hosts", "MX": "hosts", "TXT": "text"}[g.typ]
		var val string
		if g.typ == "CNAME" {
			val = strings.Join(g.vals, " ")
		} else {
			val = "[" + strings.Join(g.vals, " ") + "]"
		}
		src := ""
		if g.source != "" {
			src = " source:" + g.source
		}
		fmt.Fprintf(out, "domain: %s val: { type:%s %s:%s%s }\n", display(n.Name), g.typ, field, val, src)
	}
}

func display(name string) string {
	if name == "." {
		return name
	}
	return strings.TrimSuffix(name, ".")
}

// split reads the original's ;-separated lists (commas work too).
func split(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// addrType is A for IPv4 addresses, AAAA for IPv6.
func addrType(ips []string) (string, error) {
	v4, v6 := 0, 0
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return "", fmt.Errorf("%q is not an IP address", s)
		}
		if ip.Unmap().Is4() {
			v4++
		} else {
			v6++
		}
	}
	if v4 > 0 && v6 > 0 {
		return "", usagef("-ips mixes IPv4 and IPv6: create them with -type A and -type AAAA separately")
	}
	if v6 > 0 {
		return "AAAA", nil
	}
	return "A", nil
}

// request fills the common fields of a write from the flags.
func (o *options) request() (*apitypes.Request, error) {
	req := &apitypes.Request{Type: strings.ToUpper(o.typ), IPs: split(o.ips), Hosts: split(o.hosts), Text: o.text, User: o.user, Site: o.site}
	for _, p := range split(o.ports) {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, usagef("-ports: %q is not a port", p)
		}
		req.Ports = append(req.Ports, n)
	}
	if o.priority >= 0 {
		req.Priority = &o.priority
	}
	if o.weight >= 0 {
		req.Weight = &o.weight
	}
	if o.ttl >= 0 {
		ttl := int64(o.ttl)
		req.TTL = &ttl
	}
	return req, nil
}

func create(c *client, o *options, out io.Writer) error {
	req, err := o.request()
	if err != nil {
		return err
	}
	switch {
	case o.alias != "":
		if len(req.IPs) > 0 || len(req.Hosts) > 0 || req.Text != "" {
			return usagef("give either -alias or the record's data (-ips, -hosts, -text), not both")
		}
		req.Type, req.Alias = "CNAME", o.alias
	case req.Type == "" && len(req.IPs) > 0 && len(req.Ports) == 0:
		if req.Type, err = addrType(req.IPs); err != nil {
			return err
		}
	case req.Type == "" && req.Text != "":
		req.Type = "TXT"
	case req.Type == "" && len(req.Ports) > 0:
		req.Type = "SRV"
	case req.Type == "":
		return usagef("-method create needs -ips, -alias, or -type with its data")
	}
	if o.policy != "" && o.policy != "none" {
		p, err := parsePolicy(o.policy)
		if err != nil {
			return err
		}
		req.Policy = p
	}
	return printOK(c.ok("POST", url.PathEscape(o.domain), req))(out)
}

func update(c *client, o *options, out io.Writer) error {
	if o.updates == "" {
		if o.policy != "" {
			return setPolicy(c, o, out)
		}
		return usagef(`-method update needs -updates, e.g. "ips:192.0.2.1->192.0.2.9"`)
	}
	kind, pairs, ok := strings.Cut(o.updates, ":")
	if !ok {
		return usagef(`-updates %q: want "ips:old->new;old2->new2" or "alias:old->new"`, o.updates)
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	req.IPs, req.Hosts, req.Text = nil, nil, ""
	req.Update = map[string]string{}
	var olds []string
	for _, p := range strings.Split(pairs, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		old, nw, ok := strings.Cut(p, "->")
		if !ok || strings.TrimSpace(old) == "" || strings.TrimSpace(nw) == "" {
			return usagef("-updates: %q is not old->new", p)
		}
		req.Update[strings.TrimSpace(old)] = strings.TrimSpace(nw)
		olds = append(olds, strings.TrimSpace(old))
	}
	if len(req.Update) == 0 {
		return usagef("-updates %q has no old->new pair", o.updates)
	}
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "ips":
		if req.Type == "" {
			if req.Type, err = addrType(olds); err != nil {
				return err
			}
		}
	case "alias":
		req.Type = "CNAME"
	case "hosts":
		if req.Type == "" {
			return usagef("-updates hosts: needs -type SRV, NS or MX")
		}
	case "text":
		req.Type = "TXT"
	default:
		return usagef("-updates %q: want ips:, alias:, hosts: or text:", o.updates)
	}
	return printOK(c.ok("PUT", url.PathEscape(o.domain), req))(out)
}

func remove(c *client, o *options, out io.Writer) error {
	if o.policy == "none" {
		return printOK(c.ok("DELETE", url.PathEscape(o.domain)+"/policy", nil))(out)
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	if o.alias != "" {
		req.Type, req.Alias = "CNAME", o.alias
	}
	req.Ports, req.Priority, req.Weight, req.TTL, req.User = nil, nil, nil, nil, ""
	var body any
	if req.Type != "" || len(req.IPs) > 0 || len(req.Hosts) > 0 || req.Text != "" || req.Alias != "" {
		body = req
	}
	return printOK(c.ok("DELETE", url.PathEscape(o.domain), body))(out)
}

func setPolicy(c *client, o *options, out io.Writer) error {
	if o.domain == "" {
		return usagef("-policy needs -domain")
	}
	if o.policy == "none" {
		return printOK(c.ok("DELETE", url.PathEscape(o.domain)+"/policy", nil))(out)
	}
	p, err := parsePolicy(o.policy)
	if err != nil {
		return err
	}
	return printOK(c.ok("PUT", url.PathEscape(o.domain)+"/policy", p))(out)
}

func parsePolicy(s string) (*policy.Policy, error) {
	var p policy.Policy
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, usagef("-policy: not a policy: %v", err)
	}
	return &p, nil
}

// printOK prints the API's answer to a write.
func printOK(answer string, err error) func(io.Writer) error {
	return func(out io.Writer) error {
		if err != nil {
			return err
		}
		fmt.Fprintln(out, answer)
		return nil
	}
}
