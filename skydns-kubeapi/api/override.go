package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// The per-IP overrides: GET /skydns/overrides/ lists them, GET, PUT and
// DELETE /skydns/overrides/{ip} read, set and remove one. An override is
// stored at <override-path><ip>; the schedule leader writes it into the
// IP's status while it lasts, and the checkers' verdict again when it is
// removed or its until passes.

// maxReason bounds an override's reason: a sentence, not a document.
const maxReason = 256

// overrideIP reads the {ip} of an override route: a host address, in any
// notation (it is stored under its canonical text).
func overrideIP(r *http.Request) (netip.Addr, *httpError) {
	return parseAddr(r.PathValue("ip"), "")
}

// checkReason validates the free-text reason of an override.
func checkReason(s string) *httpError {
	if len(s) > maxReason {
		return errorf(http.StatusBadRequest, "reason is longer than %d bytes", maxReason)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return errorf(http.StatusBadRequest, "reason must be UTF-8 text without control characters")
	}
	return nil
}

// overrideView is an override as the API shows it, at now.
func overrideView(o health.Override, now time.Time) *apitypes.Override {
	v := &apitypes.Override{Status: o.Status, Reason: o.Reason, User: o.User, Expired: !o.Active(now)}
	if !o.Since.IsZero() {
		since := o.Since
		v.Since = &since
	}
	if !o.Until.IsZero() {
		until := o.Until
		v.Until = &until
	}
	return v
}

// ipOverride is what the API shows of the override e of ip.
func (a *API) ipOverride(ip netip.Addr, e store.OverrideEntry, now time.Time) apitypes.IPOverride {
	out := apitypes.IPOverride{IP: ip.String(), Names: a.store.NamesOf(ip), Health: a.health(ip)}
	out.Health.Override = nil // it is the entry itself
	if out.Names == nil {
		out.Names = []string{}
	}
	if e.Err != nil {
		out.Error = fmt.Sprintf("the stored value %q cannot be read (%s): the schedule ignores it; PUT a new override or DELETE it",
			e.Raw, strings.TrimPrefix(e.Err.Error(), "health: "))
		return out
	}
	out.Override = *overrideView(e.Override, now)
	return out
}

// getOverrides: GET /skydns/overrides/.
func (a *API) getOverrides(w http.ResponseWriter, _ *http.Request) *httpError {
	if err := a.readHeaders(w); err != nil {
		return err
	}
	now := time.Now()
	list := apitypes.OverrideList{Overrides: []apitypes.IPOverride{}}
	for _, e := range a.store.Overrides() {
		list.Overrides = append(list.Overrides, a.ipOverride(e.IP, e, now))
	}
	writeJSON(w, list)
	return nil
}

// getOverride: GET /skydns/overrides/{ip}.
func (a *API) getOverride(w http.ResponseWriter, r *http.Request) *httpError {
	ip, err := overrideIP(r)
	if err != nil {
		return err
	}
	if err := a.readHeaders(w); err != nil {
		return err
	}
	e, ok := a.store.Override(ip)
	if !ok {
		return errorf(http.StatusNotFound, "%s has no override", ip)
	}
	writeJSON(w, a.ipOverride(ip, e, time.Now()))
	return nil
}

// putOverride: PUT /skydns/overrides/{ip} with {"status":"DOWN","reason":"...","until":"..."}.
// It answers the stored override (not OK: it says what the override
// reaches, and warns when nothing yet).
func (a *API) putOverride(w http.ResponseWriter, r *http.Request) *httpError {
	ip, herr := overrideIP(r)
	if herr != nil {
		return herr
	}
	var req apitypes.OverrideRequest
	if err := a.readBody(w, r, &req, false); err != nil {
		return err
	}
	status := strings.ToUpper(strings.TrimSpace(req.Status))
	switch status {
	case "UP", "DOWN":
	case "":
		return errorf(http.StatusBadRequest, "status is required: DOWN (take the address out of the answers) or UP (serve it whatever its checks say)")
	default:
		return errorf(http.StatusBadRequest, "status %q: want DOWN (take the address out of the answers) or UP (serve it whatever its checks say)", req.Status)
	}
	user := req.User
	if user == "" {
		user = r.URL.Query().Get("user")
	}
	if err := checkUser(user); err != nil {
		return err
	}
	user = userOf(r, user)
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Second)
	want := health.Override{Status: status, Reason: req.Reason, User: user, Since: now}
	if req.Until != nil {
		if !req.Until.After(time.Now()) {
			return errorf(http.StatusBadRequest, "until %s is not in the future", req.Until.Format(time.RFC3339))
		}
		want.Until = req.Until.UTC()
	}
	key := a.store.OverrideKey(ip)
	var stored health.Override
	err := a.apply(r.Context(), []string{"override " + ip.String()}, func(t *tx) *httpError {
		o := want
		cur, ok := t.override(ip)
		// Set again with the same word, an override keeps the time it
		// began: since says how long the address has been out (or in).
		if ok && cur.Err == nil && cur.Override.Status == o.Status && cur.Override.Active(now) && !cur.Override.Since.IsZero() {
			o.Since = cur.Override.Since
		}
		stored = o
		b, err := health.EncodeOverride(o)
		if err != nil {
			return errorf(http.StatusBadRequest, "%s", err)
		}
		if ok && cur.Key != key {
			t.del(cur.Key) // another spelling of the address, written by hand
		}
		if ok && cur.Key == key && bytes.Equal(cur.Raw, b) {
			return nil
		}
		t.put(key, b)
		return nil
	})
	if err != nil {
		return err
	}
	out := a.ipOverride(ip, store.OverrideEntry{Key: key, IP: ip, Override: stored}, time.Now())
	if len(out.Names) == 0 {
		out.Warning = fmt.Sprintf("no record in the zones this API serves (%s) has the address %s: the override is stored, "+
			"but the schedule writes a status only for an address some record uses (in any zone)",
			strings.Join(a.displayDomains(), ", "), ip)
	}
	writeJSON(w, out)
	return nil
}

// deleteOverride: DELETE /skydns/overrides/{ip}. The schedule leader then
// writes the checkers' verdict back at once.
func (a *API) deleteOverride(w http.ResponseWriter, r *http.Request) *httpError {
	ip, herr := overrideIP(r)
	if herr != nil {
		return herr
	}
	if err := noteUser(r, ""); err != nil {
		return err
	}
	err := a.apply(r.Context(), []string{"override " + ip.String()}, func(t *tx) *httpError {
		cur, ok := t.override(ip)
		if !ok {
			return errorf(http.StatusNotFound, "%s has no override", ip)
		}
		t.del(cur.Key)
		return nil
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// displayDomains are the API's zones as operators type them.
func (a *API) displayDomains() []string {
	out := make([]string, len(a.domains))
	for i, d := range a.domains {
		out[i] = display(d)
	}
	return out
}
