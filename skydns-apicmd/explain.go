package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/skydns/skydns/skydns/explain"
)

// explainName asks the DNS server why it answers a name as it does
// (GET /skydns/explain on its stats listener) and prints the answer so
// that the decision reads top to bottom.
func explainName(o *options, out io.Writer) error {
	c, err := newStatsClient(o.statsAddr, o.statsToken, o.caFile, o.timeout)
	if err != nil {
		return err
	}
	q := url.Values{"name": {o.explain}}
	if o.typ != "" {
		q.Set("type", o.typ)
	}
	if o.client != "" {
		q.Set("client", o.client)
	}
	var e explain.Explanation
	raw, err := c.send("GET", c.base+"skydns/explain", q, nil, &e)
	if err != nil {
		return err
	}
	if o.json {
		_, err := out.Write(raw)
		return err
	}
	printExplanation(out, &e)
	return nil
}

func printExplanation(out io.Writer, e *explain.Explanation) {
	cl := e.Client
	who := cl.Address
	if cl.ECS != "" {
		who += ", client subnet " + cl.ECS
	}
	fmt.Fprintf(out, "%s %s asked by %s\n", e.Query.Name, e.Query.Type, who)
	site := "none"
	if cl.Site != "" {
		site = cl.Site
	}
	fmt.Fprintf(out, "client site: %s (%s)\n", site, cl.SiteFrom)
	fmt.Fprintf(out, "client key:  %s (%s)\n", cl.Key, cl.KeyFrom)
	for _, n := range e.Names {
		fmt.Fprintln(out)
		if n.AliasTo != "" {
			fmt.Fprintf(out, "%s is an alias of %s\n", n.Name, n.AliasTo)
			continue
		}
		fmt.Fprintln(out, n.Name)
		if p := n.Policy; p != nil {
			state := "not set"
			if p.Present {
				state = "set"
			}
			fmt.Fprintf(out, "  policy %s (%s):\n", p.Key, state)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, s := range p.Settings {
				fmt.Fprintf(tw, "    %s\t%s\t[%s]\n", s.Name, s.Value, s.From)
			}
			tw.Flush()
		}
		if len(n.Records) == 0 {
			fmt.Fprintln(out, "  no address records of this type")
			continue
		}
		health := map[string]explain.Health{}
		for _, h := range n.Health {
			health[h.IP] = h
		}
		fmt.Fprintln(out, "  records:")
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, r := range n.Records {
			h := health[r.IP]
			var more []string
			if r.Site != "" {
				more = append(more, "site "+r.Site)
			}
			if r.Duplicate {
				more = append(more, "duplicate")
			}
			if h.Since != nil {
				more = append(more, "since "+h.Since.Format(timeFormat))
			}
			if h.Reason != "" {
				more = append(more, fmt.Sprintf("reason %q", h.Reason))
			}
			if h.Votes != "" {
				more = append(more, "votes "+h.Votes)
			}
			if h.Override {
				more = append(more, "override")
			}
			key := r.Key
			if key == "" {
				key = "(key not found)"
			}
			status := h.Status
			if r.Duplicate {
				status = "-"
			} else if !h.Served {
				status += " (not served)"
			}
			line := fmt.Sprintf("    %s\t%s\t%s\t%s", r.IP, status, key, strings.Join(more, ", "))
			fmt.Fprintln(tw, strings.TrimRight(line, "\t"))
		}
		tw.Flush()
		fmt.Fprintln(out, "  steps:")
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, s := range n.Steps {
			set := strings.Join(s.Addresses, " ")
			if set == "" {
				set = "(none)"
			}
			fmt.Fprintf(tw, "    %s\t%d\t%s\t%s\n", s.Step, len(s.Addresses), set, s.Detail)
		}
		tw.Flush()
		fmt.Fprintf(out, "  ECS scope from sites: /%d\n", n.ECSScope)
	}
	fmt.Fprintln(out)
	scope := ""
	if e.Answer.ECSScope != nil {
		scope = fmt.Sprintf(", ECS scope /%d", *e.Answer.ECSScope)
	}
	fmt.Fprintf(out, "answer: %s%s\n", e.Answer.Rcode, scope)
	for _, rr := range e.Answer.Answer {
		fmt.Fprintf(out, "  %s\n", rr)
	}
	for _, rr := range e.Answer.Authority {
		fmt.Fprintf(out, "  authority: %s\n", rr)
	}
	for _, n := range e.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
}
