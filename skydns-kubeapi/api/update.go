package api

import (
	"net/http"
	"net/netip"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// put changes records: PUT /skydns/api/{name} with an update map.
func (a *API) put(w http.ResponseWriter, r *http.Request) *httpError {
	var req apitypes.Request
	if err := a.readBody(w, r, &req, false); err != nil {
		return err
	}
	m, err := a.meta(r, &req)
	if err != nil {
		return err
	}
	if len(req.Update) == 0 {
		if req.Policy != nil && req.Type == "" {
			return a.setPolicy(w, r, *req.Policy, m)
		}
		return errorf(http.StatusBadRequest, `update is required: {"type":"A","update":{"192.0.2.1":"192.0.2.9"}}`)
	}
	if len(req.Update) > a.cfg.MaxTxnOps {
		return errorf(http.StatusRequestEntityTooLarge, "%d updates do not fit in one transaction of at most %d operations: split the request", len(req.Update), a.cfg.MaxTxnOps)
	}
	typ, err := parseType(req.Type, false)
	if err != nil {
		return err
	}
	if typ == record.TypeCNAME {
		return a.putCNAME(w, r, &req, m)
	}
	name, err := a.writableName(r.PathValue("name"))
	if err != nil {
		return err
	}
	zone := a.zoneFor(name)
	// Parse every pair before touching anything.
	type pair struct {
		old, new     string // values as stored (address, host, text)
		oldIP, newIP netip.Addr
	}
	var pairs []pair
	seen := map[string]string{} // normalized old value -> as written
	for o, n := range req.Update {
		p := pair{old: o, new: n}
		switch typ {
		case record.TypeA, record.TypeAAAA:
			var err *httpError
			if p.oldIP, err = parseAddr(o, typ); err != nil {
				return err
			}
			if p.newIP, err = parseAddr(n, typ); err != nil {
				return err
			}
			p.old, p.new = p.oldIP.String(), p.newIP.String()
		case record.TypeSRV, record.TypeNS, record.TypeMX:
			for i, s := range []string{o, n} {
				if typ == record.TypeSRV {
					if ip, err := record.ParseIP(s); err == nil {
						if _, err := parseAddr(s, ""); err != nil {
							return err
						}
						t, err := srvTarget(name, ip)
						if err != nil {
							return err
						}
						if i == 0 {
							p.oldIP, p.old = ip, t
						} else {
							p.newIP, p.new = ip, t
						}
						continue
					}
				}
				h, err := a.resolveTarget(s, zone)
				if err != nil {
					return err
				}
				if i == 0 {
					p.old = h
				} else {
					p.new = h
				}
			}
		case record.TypeTXT:
			if n == "" || len(n) > maxText {
				return errorf(http.StatusBadRequest, "new text must be 1-%d bytes", maxText)
			}
		}
		// Keys are compared as normalized: 192.0.2.9 and ::ffff:192.0.2.9,
		// or web and web.skydns.local., name one record, which must not
		// become two.
		if prev, dup := seen[p.old]; dup {
			return errorf(http.StatusBadRequest, "update names one %s record twice, as %q and %q", typ, prev, o)
		}
		seen[p.old] = o
		pairs = append(pairs, p)
	}
	err = a.apply(r.Context(), []string{name}, func(t *tx) *httpError {
		existing := t.records(name)
		var adds []want
		for _, p := range pairs {
			found := false
			for _, e := range existing {
				if e.Record.Type != typ || value(e.Record) != p.old {
					continue
				}
				if !ownedByAPI(e.Record.Source) {
					return errorf(http.StatusForbidden, "the %s record %s of %s belongs to %s; the API does not change it",
						typ, describe(e.Record), display(name), foreign(e))
				}
				found = true
				t.del(e.Key)
				rec := e.Record
				rec.User, rec.Source, rec.Cluster = m.user, store.SourceAPI, m.cluster
				if m.ttl != 0 {
					rec.TTL = m.ttl
				}
				if m.site != "" && (typ == record.TypeA || typ == record.TypeAAAA) {
					rec.Site = m.site // else the new address keeps the old one's site, as its TTL
				}
				switch typ {
				case record.TypeTXT:
					rec.Text = p.new
				default:
					rec.Host = p.new
				}
				adds = append(adds, want{name, rec})
			}
			if !found {
				return errorf(http.StatusNotFound, "%s has no %s record %s", display(name), typ, p.old)
			}
			if typ == record.TypeSRV && p.oldIP.IsValid() {
				a.dropTargetAddr(t, name, p.old, p.oldIP, nil)
			}
			if typ == record.TypeSRV && p.newIP.IsValid() {
				addr := m.record(addrType(p.newIP))
				addr.Host = p.newIP.String()
				adds = append(adds, want{p.new, addr})
			}
		}
		return a.planAdd(t, adds)
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// value is what an update or a delete names a record by.
func value(r record.Record) string {
	switch r.Type {
	case record.TypeTXT:
		return r.Text
	case record.TypeA, record.TypeAAAA:
		if ip := r.IP(); ip.IsValid() {
			return ip.String()
		}
	}
	return r.Host
}
