package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// want is a record a request adds, and the name it belongs to: the
// request's name, or for an SRV record given by IP, its generated target.
type want struct {
	owner string
	rec   record.Record
}

// zoneFor is the zone names in a request for name are relative to.
func (a *API) zoneFor(name string) string {
	if z := a.writableZone(name); z != "" {
		return z
	}
	if z := a.knownZone(name); z != "" {
		return z
	}
	return a.domains[0]
}

// post adds records: POST /skydns/api/{name}.
func (a *API) post(w http.ResponseWriter, r *http.Request) *httpError {
	var req apitypes.Request
	if err := a.readBody(w, r, &req, false); err != nil {
		return err
	}
	typ, err := parseType(req.Type, false)
	if err != nil {
		return err
	}
	m, err := a.meta(r, &req)
	if err != nil {
		return err
	}
	if typ == record.TypeCNAME {
		return a.postCNAME(w, r, &req, m)
	}
	name, err := a.writableName(r.PathValue("name"))
	if err != nil {
		return err
	}
	wants, err := a.wants(name, typ, &req, m)
	if err != nil {
		return err
	}
	if req.Policy != nil {
		if err := checkPolicy(*req.Policy); err != nil {
			return err
		}
	}
	err = a.apply(r.Context(), []string{name}, func(t *tx) *httpError {
		if err := a.planAdd(t, wants); err != nil {
			return err
		}
		if req.Policy != nil {
			return a.planPolicy(t, name, *req.Policy, m)
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// wants builds the records a POST of type typ on name asks for.
func (a *API) wants(name string, typ record.Type, req *apitypes.Request, m meta) ([]want, *httpError) {
	zone := a.zoneFor(name)
	var out []want
	switch typ {
	case record.TypeA, record.TypeAAAA:
		if len(req.IPs) == 0 {
			return nil, errorf(http.StatusBadRequest, "ips is required for type %s", typ)
		}
		for _, s := range req.IPs {
			ip, err := parseAddr(s, typ)
			if err != nil {
				return nil, err
			}
			rec := m.record(typ)
			rec.Host = ip.String()
			out = append(out, want{name, rec})
		}
	case record.TypeSRV:
		n := len(req.IPs) + len(req.Hosts)
		if n == 0 {
			return nil, errorf(http.StatusBadRequest, "ips or hosts is required for type SRV: the targets")
		}
		if len(req.Ports) != 1 && len(req.Ports) != n {
			return nil, errorf(http.StatusBadRequest, "ports: give one port for all %d targets, or one per target; got %d", n, len(req.Ports))
		}
		prio, weight := 10, 10
		if req.Priority != nil {
			prio = *req.Priority
		}
		if req.Weight != nil {
			weight = *req.Weight
		}
		if prio < 0 || prio > 65535 || weight < 0 || weight > 65535 {
			return nil, errorf(http.StatusBadRequest, "priority and weight must be 0-65535")
		}
		port := func(i int) int {
			if len(req.Ports) == 1 {
				return req.Ports[0]
			}
			return req.Ports[i]
		}
		for i := range n {
			p := port(i)
			if p < 1 || p > 65535 {
				return nil, errorf(http.StatusBadRequest, "port %d out of range 1-65535", p)
			}
			srv := m.record(record.TypeSRV)
			srv.Port, srv.Priority, srv.Weight = p, prio, weight
			if i < len(req.IPs) {
				ip, err := parseAddr(req.IPs[i], "")
				if err != nil {
					return nil, err
				}
				target, err := srvTarget(name, ip)
				if err != nil {
					return nil, err
				}
				srv.Host = target
				addr := m.record(addrType(ip))
				addr.Host = ip.String()
				out = append(out, want{name, srv}, want{target, addr})
				continue
			}
			host, err := a.resolveTarget(req.Hosts[i-len(req.IPs)], zone)
			if err != nil {
				return nil, err
			}
			srv.Host = host
			out = append(out, want{name, srv})
		}
	case record.TypeNS, record.TypeMX:
		hosts := append([]string(nil), req.Hosts...)
		field := "hosts or nsHost"
		if typ == record.TypeNS && req.NSHost != "" {
			hosts = append(hosts, req.NSHost)
		}
		if typ == record.TypeMX {
			field = "hosts or mailHost"
			if req.MailHost != "" {
				hosts = append(hosts, req.MailHost)
			}
		}
		if len(hosts) == 0 {
			return nil, errorf(http.StatusBadRequest, "%s is required for type %s", field, typ)
		}
		prio := 10
		if req.MailPriority != nil {
			prio = *req.MailPriority
		} else if req.Priority != nil {
			prio = *req.Priority
		}
		if prio < 0 || prio > 65535 {
			return nil, errorf(http.StatusBadRequest, "priority %d out of range 0-65535", prio)
		}
		for _, h := range hosts {
			host, err := a.resolveTarget(h, zone)
			if err != nil {
				return nil, err
			}
			rec := m.record(typ)
			rec.Host = host
			if typ == record.TypeMX {
				rec.Priority, rec.Mail = prio, true
			}
			out = append(out, want{name, rec})
		}
	case record.TypeTXT:
		if req.Text == "" {
			return nil, errorf(http.StatusBadRequest, "text is required for type TXT")
		}
		if len(req.Text) > maxText {
			return nil, errorf(http.StatusBadRequest, "text is longer than %d bytes", maxText)
		}
		rec := m.record(typ)
		rec.Text = req.Text
		out = append(out, want{name, rec})
	}
	for _, w := range out {
		if _, _, err := store.Normalize(w.rec); err != nil {
			return nil, errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
		}
	}
	return out, nil
}

// planAdd adds wanted records beside what their names hold.
func (a *API) planAdd(t *tx, wants []want) *httpError {
	for _, w := range wants {
		existing := t.records(w.owner)
		for _, e := range existing {
			if e.Record.Type == record.TypeCNAME {
				return errorf(http.StatusConflict, "%s is a CNAME of %s; a name with a CNAME can have no other records",
					display(w.owner), display(e.Record.Host))
			}
		}
		n, _, err := store.Normalize(w.rec)
		if err != nil {
			return errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
		}
		key, herr := t.recordKey(w.owner, n, existing)
		if herr != nil {
			return herr
		}
		present := false
		for _, e := range existing {
			if !sameRecord(e.Record, n) {
				continue
			}
			if !ownedByAPI(e.Record.Source) {
				return errorf(http.StatusConflict, "%s already has this %s record (%s), published by %s",
					display(w.owner), n.Type, describe(n), foreign(e))
			}
			// The same record under another key (the original API's
			// unpadded ids) is kept as it is rather than served twice.
			present = present || e.Key != key
		}
		if present {
			continue
		}
		if err := t.putRecord(w.owner, w.rec, existing); err != nil {
			return err
		}
	}
	return nil
}

// sameRecord reports whether two records give the same answer.
func sameRecord(a, b record.Record) bool {
	return a.Type == b.Type && value(a) == value(b) && a.Port == b.Port
}

// describe is the value of a record in a message.
func describe(r record.Record) string {
	switch r.Type {
	case record.TypeTXT:
		return "text " + r.Text
	case record.TypeSRV:
		return display(r.Host) + ":" + strconv.Itoa(r.Port)
	case record.TypeA, record.TypeAAAA:
		return r.Host
	}
	return display(r.Host)
}
