package api

import (
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// List page sizes.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// readable resolves a name for a read and checks it is in a zone this API
// serves.
func (a *API) readable(raw string) (string, *httpError) {
	name, err := a.resolve(raw, a.domains[0])
	if err != nil {
		return "", err
	}
	if !a.store.Covers(name) {
		return "", errorf(http.StatusNotFound, "%s is not in a zone this API serves", display(name))
	}
	return name, nil
}

// readHeaders says how current the mirror that answers is.
func (a *API) readHeaders(w http.ResponseWriter) *httpError {
	if !a.store.IsReady() {
		return errorf(http.StatusServiceUnavailable, "records are not loaded from etcd yet; try again")
	}
	if a.store.Stale() {
		w.Header().Set("X-SkyDNS-Stale", "true")
	}
	return nil
}

// getName: GET /skydns/api/{name}[?type=A].
func (a *API) getName(w http.ResponseWriter, r *http.Request) *httpError {
	name, err := a.readable(r.PathValue("name"))
	if err != nil {
		return err
	}
	typ, err := parseType(r.URL.Query().Get("type"), true)
	if err != nil {
		return err
	}
	if err := a.readHeaders(w); err != nil {
		return err
	}
	v, ok := a.view(name, typ)
	if !ok {
		if typ != "" {
			return errorf(http.StatusNotFound, "%s has no %s records", display(name), typ)
		}
		return errorf(http.StatusNotFound, "%s has no records", display(name))
	}
	writeJSON(w, v)
	return nil
}

// getList: GET /skydns/api/[?limit=N&after=NAME].
func (a *API) getList(w http.ResponseWriter, r *http.Request) *httpError {
	q := r.URL.Query()
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return errorf(http.StatusBadRequest, "limit %q: want 1-%d", s, maxLimit)
		}
		limit = n
	}
	after := ""
	if s := q.Get("after"); s != "" {
		n, err := record.NormalizeName(s)
		if err != nil {
			return errorf(http.StatusBadRequest, "after: %s", strings.TrimPrefix(err.Error(), "record: "))
		}
		after = n
	}
	if err := a.readHeaders(w); err != nil {
		return err
	}
	names, next := a.store.Names(after, limit)
	list := apitypes.List{Names: make([]apitypes.Name, 0, len(names)), Next: next}
	for _, n := range names {
		if v, ok := a.view(n, ""); ok {
			list.Names = append(list.Names, v)
		}
	}
	writeJSON(w, list)
	return nil
}

// getPolicy: GET /skydns/api/{name}/policy.
func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) *httpError {
	name, err := a.readable(r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := a.readHeaders(w); err != nil {
		return err
	}
	pe, ok := a.store.Policy(name)
	if !ok {
		return errorf(http.StatusNotFound, "%s has no policy", display(name))
	}
	writeJSON(w, apitypes.Policy{Policy: pe.Policy, Source: pe.Source, Cluster: pe.Cluster, User: pe.User})
	return nil
}

// view is what GET shows of a name: its records (of type typ, or all), the
// health of each address, and its policy. ok is false when there is nothing.
func (a *API) view(name string, typ record.Type) (apitypes.Name, bool) {
	v := apitypes.Name{Name: name, Records: []apitypes.Record{}}
	for _, e := range a.store.Records(name) {
		if typ != "" && e.Record.Type != typ {
			continue
		}
		rec := e.Record
		out := apitypes.Record{
			Type: string(rec.Type), Host: rec.Host, Port: rec.Port, Priority: rec.Priority,
			Weight: rec.Weight, Text: rec.Text, TTL: rec.TTL, Source: rec.Source,
			Cluster: rec.Cluster, User: rec.User, Site: rec.Site, Key: e.Key,
		}
		if ip := rec.IP(); ip.IsValid() {
			h := a.healthFor(name, ip)
			out.Health = &h
			out.InSite = a.store.SiteOf(ip, rec.Site)
		} else if rec.Type != record.TypeTXT && rec.Host != "" {
			out.Addresses = a.addresses(rec.Host)
		}
		v.Records = append(v.Records, out)
	}
	sortRecords(v.Records)
	if pe, ok := a.store.Policy(name); ok && typ == "" {
		v.Policy = &apitypes.Policy{Policy: pe.Policy, Source: pe.Source, Cluster: pe.Cluster, User: pe.User}
	}
	return v, len(v.Records) > 0 || v.Policy != nil
}

// health is the status of ip, UNKNOWN when it has none, with the
// operator's override of ip if one is stored.
func (a *API) health(ip netip.Addr) apitypes.Health {
	h := apitypes.Health{Status: health.Unknown.String()}
	if st, ok := a.store.Health(ip); ok {
		state, _ := st.State()
		h = apitypes.Health{Status: state.String(), Reason: st.Reason, Votes: st.Votes}
		if !st.Since.IsZero() {
			since := st.Since
			h.Since = &since
		}
	}
	if e, ok := a.store.Override(ip); ok && e.Err == nil {
		h.Override = overrideView(e.Override, time.Now())
	}
	return h
}

// healthFor is the health of ip as name is served it: the verdict of
// name's own check on ip where there is one and no override is in force
// (the DNS server's rule), else the IP's status.
func (a *API) healthFor(name string, ip netip.Addr) apitypes.Health {
	h := a.health(ip)
	if st, ok := a.store.Health(ip); ok && st.Override {
		return h
	}
	var c *policy.Check
	if pe, ok := a.store.Policy(name); ok {
		c = pe.Policy.Check
	}
	id := monitor.CheckID(monitor.NameSpec(c, nil))
	v, ok := a.store.Verdict(ip, id)
	if !ok {
		return h
	}
	h.Status, h.Reason, h.Votes, h.Check, h.CheckSpec = v.Status, v.Reason, v.Votes, id, v.Check
	h.Since = nil
	if !v.Since.IsZero() {
		since := v.Since
		h.Since = &since
	}
	return h
}

// addresses are the A and AAAA records host has in the mirrored zones,
// through CNAMEs, with their health: what a client of host is served.
func (a *API) addresses(host string) []apitypes.Address {
	var out []apitypes.Address
	cur := host
	for range 8 {
		next := ""
		for _, e := range a.store.Records(cur) {
			if ip := e.Record.IP(); ip.IsValid() {
				out = append(out, apitypes.Address{Name: cur, IP: ip.String(), Health: a.healthFor(cur, ip)})
			} else if e.Record.Type == record.TypeCNAME {
				next = e.Record.Host
			}
		}
		if next == "" || next == host {
			break
		}
		cur = next
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return false // keep the order of the CNAME chain
		}
		return ipLess(out[i].IP, out[j].IP)
	})
	return out
}

// typeOrder is the order records are shown in.
var typeOrder = map[string]int{"A": 1, "AAAA": 2, "CNAME": 3, "NS": 4, "MX": 5, "SRV": 6, "TXT": 7}

// sortRecords orders records by type, then value, so that answers read
// the same however the records' keys hash.
func sortRecords(rs []apitypes.Record) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Type != b.Type {
			return typeOrder[a.Type] < typeOrder[b.Type]
		}
		if a.Host != b.Host {
			return ipLess(a.Host, b.Host)
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.Text < b.Text
	})
}

// ipLess orders addresses numerically, and anything else as text.
func ipLess(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x.Less(y)
	}
	return a < b
}
