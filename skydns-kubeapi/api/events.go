package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// getEvents: GET /skydns/events?ip=&name=&since=&limit=, newest first.
// Unlike the other reads it goes to etcd: the history is not mirrored.
func (a *API) getEvents(w http.ResponseWriter, r *http.Request) *httpError {
	q := r.URL.Query()
	var sel events.Query
	if s := q.Get("ip"); s != "" {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return errorf(http.StatusBadRequest, "ip %q is not an address", s)
		}
		sel.IP = ip.Unmap().String()
	}
	if s := q.Get("name"); s != "" {
		n, err := a.resolve(s, a.domains[0])
		if err != nil {
			return err
		}
		sel.Name = n
	}
	if s := q.Get("since"); s != "" {
		// A time, or a duration back from now (since=1h).
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			sel.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			sel.Since = t
		} else {
			return errorf(http.StatusBadRequest, "since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (90m)", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > events.MaxLimit {
			return errorf(http.StatusBadRequest, "limit %q: want 1-%d", s, events.MaxLimit)
		}
		sel.Limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.RequestTimeout)
	defer cancel()
	list, err := events.List(ctx, a.store.Client(), a.store.Prefix(), sel)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "reading the events from etcd: %v", err)
	}
	writeJSON(w, apitypes.EventList{Events: list})
	return nil
}

// recordEvent adds the event of a write that t committed: the keys it put
// and deleted with their values before and after, the names it was for
// (lock, as apply took them), and who made it.
func (a *API) recordEvent(r *actor, lock []string, t *tx) {
	if a.cfg.Events == nil || r == nil {
		return
	}
	e := events.Event{Kind: events.KindAPI, User: r.user, Remote: r.remote, Method: r.method, Path: r.path}
	ips := map[string]bool{}
	for _, l := range lock {
		if ip, ok := strings.CutPrefix(l, "override "); ok {
			ips[ip] = true
			continue
		}
		e.Names = append(e.Names, display(l))
	}
	addIP := func(rec record.Record) {
		if rec.Type == record.TypeA || rec.Type == record.TypeAAAA {
			ips[rec.Host] = true
		}
	}
	_, keys := t.ops()
	for _, k := range keys {
		c := events.Change{Key: k}
		if v, ok := t.prior[k]; ok {
			if rec, isRec := v.(record.Record); isRec {
				addIP(rec)
			}
			if b, err := json.Marshal(v); err == nil {
				c.Before = compact(b)
			}
		}
		if v, ok := t.puts[k]; ok {
			c.After = compact(v)
			if rec, ok := t.planned[k]; ok {
				addIP(rec)
			}
		}
		e.Changes = append(e.Changes, c)
	}
	for ip := range ips {
		e.IPs = append(e.IPs, ip)
	}
	slices.Sort(e.IPs)
	a.cfg.Events.Add(e)
}

// compact is a stored value as an event keeps it: JSON without the
// indentation of the stored value; nil when it is not JSON.
func compact(b []byte) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil
	}
	return buf.Bytes()
}
