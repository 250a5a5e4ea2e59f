package api

import (
	"net/http"
	"net/netip"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// dropTargetAddr deletes the address record of a generated SRV target
// (target = <ip label>.<name>) unless an SRV record of name that stays
// still points at it. deleting holds the keys of SRV records being deleted.
func (a *API) dropTargetAddr(t *tx, name, target string, ip netip.Addr, deleting map[string]bool) {
	for _, e := range t.records(name) {
		if e.Record.Type == record.TypeSRV && e.Record.Host == target && !t.dels[e.Key] && !deleting[e.Key] {
			return
		}
	}
	for _, e := range t.records(target) {
		if (e.Record.Type == record.TypeA || e.Record.Type == record.TypeAAAA) && e.Record.IP() == ip && ownedByAPI(e.Record.Source) {
			t.del(e.Key)
		}
	}
}

// del removes records: DELETE /skydns/api/{name}, the whole name, or with a
// body only the records of a type, or of the given ips, hosts or text.
func (a *API) del(w http.ResponseWriter, r *http.Request) *httpError {
	var req apitypes.Request
	if err := a.readBody(w, r, &req, true); err != nil {
		return err
	}
	if err := noteUser(r, req.User); err != nil {
		return err
	}
	typ, err := parseType(req.Type, true)
	if err != nil {
		return err
	}
	name, err := a.writableName(r.PathValue("name"))
	cnameOf := ""
	if typ == record.TypeCNAME && req.Alias != "" {
		// The original form: the alias in the body, its target in the URL.
		if cnameOf, err = a.resolveTarget(r.PathValue("name"), a.domains[0]); err != nil {
			return err
		}
		if name, err = a.resolve(req.Alias, a.zoneFor(cnameOf)); err == nil {
			err = a.checkWritable(name)
		}
	}
	if err != nil {
		return err
	}
	zone := a.zoneFor(name)
	var ips []netip.Addr
	for _, s := range req.IPs {
		ip, err := parseAddr(s, "")
		if err != nil {
			return err
		}
		ips = append(ips, ip)
	}
	var hosts []string
	for _, s := range append(append([]string(nil), req.Hosts...), req.NSHost, req.MailHost) {
		if s == "" {
			continue
		}
		h, err := a.resolveTarget(s, zone)
		if err != nil {
			return err
		}
		hosts = append(hosts, h)
	}
	whole := len(ips) == 0 && len(hosts) == 0 && req.Text == ""
	err = a.apply(r.Context(), []string{name}, func(t *tx) *httpError {
		existing := t.records(name)
		match := map[string]store.Entry{}
		ofType := func(e store.Entry) bool { return typ == "" || e.Record.Type == typ }
		if whole {
			for _, e := range existing {
				if !ofType(e) {
					continue
				}
				if cnameOf != "" && e.Record.Host != cnameOf {
					return errorf(http.StatusConflict, "%s is an alias of %s, not of %s", display(name), display(e.Record.Host), display(cnameOf))
				}
				match[e.Key] = e
			}
		}
		for _, ip := range ips {
			target, _ := srvTarget(name, ip)
			n := 0
			for _, e := range existing {
				if ofType(e) && (e.Record.IP() == ip || e.Record.Type == record.TypeSRV && e.Record.Host == target) {
					match[e.Key] = e
					n++
				}
			}
			if n == 0 {
				return errorf(http.StatusNotFound, "%s has no record with address %s", display(name), ip)
			}
		}
		for _, h := range hosts {
			n := 0
			for _, e := range existing {
				if ofType(e) && e.Record.Type != record.TypeTXT && e.Record.IP() == (netip.Addr{}) && e.Record.Host == h {
					match[e.Key] = e
					n++
				}
			}
			if n == 0 {
				return errorf(http.StatusNotFound, "%s has no record with host %s", display(name), display(h))
			}
		}
		if req.Text != "" {
			n := 0
			for _, e := range existing {
				if e.Record.Type == record.TypeTXT && e.Record.Text == req.Text {
					match[e.Key] = e
					n++
				}
			}
			if n == 0 {
				return errorf(http.StatusNotFound, "%s has no TXT record with that text", display(name))
			}
		}
		var theirs []store.Entry
		deleting := map[string]bool{}
		for _, e := range match {
			if !ownedByAPI(e.Record.Source) {
				theirs = append(theirs, e)
				continue
			}
			deleting[e.Key] = true
		}
		// A named record that is someone else's is an error; deleting a
		// whole name leaves others' records and says so only if nothing
		// of the API's was there.
		if len(theirs) > 0 && (!whole || len(deleting) == 0) {
			return errorf(http.StatusForbidden, "the %s record %s of %s belongs to %s; the API does not change it",
				theirs[0].Record.Type, describe(theirs[0].Record), display(name), foreign(theirs[0]))
		}
		for k := range deleting {
			t.del(k)
		}
		for k := range deleting {
			e := match[k]
			if e.Record.Type != record.TypeSRV {
				continue
			}
			if ip, ok := ipOfTarget(name, e.Record.Host); ok {
				a.dropTargetAddr(t, name, e.Record.Host, ip, deleting)
			}
		}
		policyGone := false
		if whole && typ == "" {
			if pe, ok := t.policy(name); ok {
				if !ownedByAPI(pe.Source) {
					if len(deleting) == 0 {
						return errorf(http.StatusForbidden, "the policy of %s belongs to %s; the API does not change it", display(name), pe.Source)
					}
				} else {
					t.del(pe.Key)
					policyGone = true
				}
			}
		}
		if len(match) == 0 && !policyGone {
			if typ != "" {
				return errorf(http.StatusNotFound, "%s has no %s records", display(name), typ)
			}
			return errorf(http.StatusNotFound, "%s has no records", display(name))
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}
