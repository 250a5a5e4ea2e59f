package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// timeFormat is how times are printed, as in -status.
const timeFormat = "2006-01-02T15:04:05Z07:00"

// overrideIP reads the address of -drain, -force-up or -undrain.
func overrideIP(flag, s string) (string, error) {
	ip, err := record.ParseIP(strings.TrimSpace(s))
	if err != nil {
		return "", usagef("-%s %q: not an IP address (an override is per address, e.g. -%s 192.0.2.1)", flag, s, flag)
	}
	return ip.String(), nil
}

// parseUntil reads -until: an RFC 3339 time, or a duration from now.
func parseUntil(s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return nil, usagef("-until %s: want a duration after now, such as 2h", s)
		}
		t := now.Add(d).UTC().Truncate(time.Second)
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usagef("-until %q: want an RFC 3339 time (2026-11-22T06:00:00Z) or a duration (2h)", s)
	}
	return &t, nil
}

// setOverride is -drain (DOWN) or -force-up (UP).
func setOverride(c *client, o *options, out, warn io.Writer) error {
	if o.drain != "" && o.forceUp != "" {
		return usagef("give -drain or -force-up, not both")
	}
	flag, raw, word := "drain", o.drain, "DOWN"
	if o.forceUp != "" {
		flag, raw, word = "force-up", o.forceUp, "UP"
	}
	ip, err := overrideIP(flag, raw)
	if err != nil {
		return err
	}
	until, err := parseUntil(o.until, time.Now())
	if err != nil {
		return err
	}
	req := apitypes.OverrideRequest{Status: word, Reason: o.reason, User: o.user, Until: until}
	var v apitypes.IPOverride
	raw2, err := c.overrides("PUT", url.PathEscape(ip), req, &v)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw2)
	} else {
		fmt.Fprintln(out, apitypes.OK)
	}
	if v.Warning != "" {
		fmt.Fprintf(warn, "skydns-apicmd: warning: %s\n", v.Warning)
	}
	return nil
}

// removeOverride is -undrain: the address's checks decide again.
func removeOverride(c *client, o *options, out io.Writer) error {
	ip, err := overrideIP("undrain", o.undrain)
	if err != nil {
		return err
	}
	raw, err := c.overrides("DELETE", url.PathEscape(ip), nil, nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, strings.TrimSpace(string(raw)))
	return nil
}

// listOverrides is -overrides: one line per address.
func listOverrides(c *client, o *options, out io.Writer) error {
	var list apitypes.OverrideList
	raw, err := c.overrides("GET", "", nil, &list)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
		return nil
	}
	if len(list.Overrides) == 0 {
		fmt.Fprintln(out, "no overrides")
		return nil
	}
	for _, e := range list.Overrides {
		if e.Error != "" {
			fmt.Fprintf(out, "ip: %s error: %q\n", e.IP, e.Error)
			continue
		}
		fmt.Fprintf(out, "ip: %s%s", e.IP, describeOverride(&e.Override))
		if e.Reason != "" {
			fmt.Fprintf(out, " reason: %q", e.Reason)
		}
		if e.User != "" {
			fmt.Fprintf(out, " user: %s", e.User)
		}
		names := make([]string, len(e.Names))
		for i, n := range e.Names {
			names[i] = display(n)
		}
		fmt.Fprintf(out, " status: %s names: [%s]\n", e.Health.Status, strings.Join(names, " "))
	}
	return nil
}

// describeOverride is " override: DOWN since: ... until: ..." with
// " (expired)" once until has passed.
func describeOverride(v *apitypes.Override) string {
	s := " override: " + v.Status
	if v.Expired {
		s += " (expired)"
	}
	if v.Since != nil {
		s += " since: " + v.Since.Format(timeFormat)
	}
	if v.Until != nil {
		s += " until: " + v.Until.Format(timeFormat)
	}
	return s
}
