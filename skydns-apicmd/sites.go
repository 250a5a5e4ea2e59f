package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// siteArg reads the name of -site or -delete-site.
func siteArg(flag, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !topology.ValidName(s) {
		return "", usagef("-%s %q: a site name is a lower-case DNS label, e.g. -%s sh", flag, s, flag)
	}
	return s, nil
}

// listSites is -sites: one line per site.
func listSites(c *client, o *options, out io.Writer) error {
	var list apitypes.SiteList
	raw, err := c.sites("GET", "", nil, &list)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
		return nil
	}
	if len(list.Sites) == 0 {
		fmt.Fprintln(out, "no sites")
		return nil
	}
	for _, s := range list.Sites {
		printSite(out, s)
	}
	return nil
}

func printSite(out io.Writer, s apitypes.Site) {
	if s.Error != "" {
		fmt.Fprintf(out, "site: %s error: %q\n", s.Name, s.Error)
		return
	}
	fmt.Fprintf(out, "site: %s networks: [%s]", s.Name, strings.Join(s.Networks, " "))
	if len(s.Fallback) > 0 {
		fmt.Fprintf(out, " fallback: [%s]", strings.Join(s.Fallback, " "))
	} else {
		fmt.Fprint(out, " fallback: (all other sites)")
	}
	if len(s.FallbackOf) > 0 {
		fmt.Fprintf(out, " fallback-of: [%s]", strings.Join(s.FallbackOf, " "))
	}
	fmt.Fprintln(out)
}

// site is -site NAME: show the site, or with -networks or -fallback create
// or change it. A flag not given keeps the site's current value; "none"
// empties it.
func site(c *client, o *options, out io.Writer) error {
	name, err := siteArg("site", o.site)
	if err != nil {
		return err
	}
	var cur apitypes.Site
	raw, err := c.sites("GET", url.PathEscape(name), nil, &cur)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.status == http.StatusNotFound && (o.networks != "" || o.fallback != ""):
		cur = apitypes.Site{Name: name} // a new site
	case err != nil:
		return err
	case o.networks == "" && o.fallback == "":
		if o.json {
			out.Write(raw)
		} else {
			printSite(out, cur)
		}
		return nil
	}
	want := cur.Site
	if cur.Error != "" {
		want = topology.Site{} // unreadable: replaced by what the flags give
	}
	if o.networks != "" {
		want.Networks = listFlag(o.networks)
	}
	if o.fallback != "" {
		want.Fallback = listFlag(o.fallback)
	}
	var v apitypes.Site
	raw, err = c.sites("PUT", url.PathEscape(name), want, &v)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
	} else {
		fmt.Fprintln(out, apitypes.OK)
	}
	return nil
}

// listFlag splits a ;-separated flag; "none" is the empty list.
func listFlag(s string) []string {
	if strings.TrimSpace(s) == "none" {
		return []string{}
	}
	return split(s)
}

// deleteSite is -delete-site NAME.
func deleteSite(c *client, o *options, out io.Writer) error {
	name, err := siteArg("delete-site", o.deleteSite)
	if err != nil {
		return err
	}
	raw, err := c.sites("DELETE", url.PathEscape(name), nil, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, strings.TrimSpace(string(raw)))
	return nil
}

// printSites is what -show adds for a name whose addresses are in sites:
// one line per address with its site and why (the record's site field, or
// the networks of the site).
func printSites(out io.Writer, n apitypes.Name) {
	for _, r := range n.Records {
		if r.InSite == "" && r.Site == "" {
			continue
		}
		how := "network"
		switch {
		case r.Site != "" && r.InSite == r.Site:
			how = "record"
		case r.Site != "":
			how = fmt.Sprintf("network; its record names site %s, which does not exist", r.Site)
		}
		in := r.InSite
		if in == "" {
			in = "none"
		}
		fmt.Fprintf(out, "domain: %s ip: %s site: %s (%s)\n", display(n.Name), r.Host, in, how)
	}
}
