package api

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// The sites of the topology: GET /skydns/sites/ lists them, GET, PUT and
// DELETE /skydns/sites/{site} read, set and remove one. The body of PUT is
// the value stored at <prefix>/topology/<site>. A write is checked against
// the other sites inside its transaction (the whole topology prefix is
// guarded), so of two writers that would together make the topology
// inconsistent, one fails its guard, plans again and is refused.

// siteName reads the {site} of a site route.
func siteName(r *http.Request) (string, *httpError) {
	name := r.PathValue("site")
	if !topology.ValidName(name) {
		return "", errorf(http.StatusBadRequest,
			"site name %q: want a lower-case DNS label ([a-z0-9], inner '-', at most 63 characters)", name)
	}
	return name, nil
}

// siteView is what the API shows of a stored site, among all of them.
func siteView(e store.SiteEntry, all []store.SiteEntry) apitypes.Site {
	v := apitypes.Site{Name: e.Name, Site: e.Site, Key: e.Key}
	if v.Networks == nil {
		v.Networks = []string{}
	}
	if e.Err != nil {
		v.Error = fmt.Sprintf("the stored value %q cannot be read (%s): the DNS server skips this site; PUT a new value or DELETE it",
			e.Raw, strings.TrimPrefix(e.Err.Error(), "topology: "))
	}
	v.FallbackOf = fallbackOf(e.Name, all)
	return v
}

// fallbackOf returns the readable sites that name site as a fallback.
func fallbackOf(site string, all []store.SiteEntry) []string {
	var out []string
	for _, o := range all {
		if o.Err == nil && slices.Contains(o.Site.Fallback, site) {
			out = append(out, o.Name)
		}
	}
	return out
}

// getSites: GET /skydns/sites/.
func (a *API) getSites(w http.ResponseWriter, _ *http.Request) *httpError {
	if err := a.readHeaders(w); err != nil {
		return err
	}
	all := a.store.Sites()
	list := apitypes.SiteList{Sites: []apitypes.Site{}}
	for _, e := range all {
		list.Sites = append(list.Sites, siteView(e, all))
	}
	writeJSON(w, list)
	return nil
}

// getSite: GET /skydns/sites/{site}.
func (a *API) getSite(w http.ResponseWriter, r *http.Request) *httpError {
	name, herr := siteName(r)
	if herr != nil {
		return herr
	}
	if err := a.readHeaders(w); err != nil {
		return err
	}
	e, ok := a.store.Site(name)
	if !ok {
		return errorf(http.StatusNotFound, "no site %s", name)
	}
	writeJSON(w, siteView(e, a.store.Sites()))
	return nil
}

// putSite: PUT /skydns/sites/{site} with {"networks":[...],"fallback":[...]}
// creates or replaces a site. It answers the stored site.
func (a *API) putSite(w http.ResponseWriter, r *http.Request) *httpError {
	name, herr := siteName(r)
	if herr != nil {
		return herr
	}
	var req topology.Site
	if err := a.readBody(w, r, &req, false); err != nil {
		return err
	}
	b, err := req.Encode(name)
	if err != nil {
		return errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "topology: "))
	}
	want, _ := topology.Decode(name, b) // the normalized form
	key := a.store.SiteKey(name)
	var after []store.SiteEntry
	herr = a.apply(r.Context(), []string{sitesLock}, func(t *tx) *httpError {
		all := t.sites()
		sites := map[string]topology.Site{name: want}
		var cur *store.SiteEntry
		for i, e := range all {
			switch {
			case e.Name == name:
				cur = &all[i]
			case e.Err == nil:
				sites[e.Name] = e.Site
			}
		}
		for _, f := range want.Fallback {
			e, ok := findSite(all, f)
			if !ok || e.Err != nil {
				return errorf(http.StatusBadRequest, "fallback %q: no such site; create it first", f)
			}
			t.siteExists(e)
		}
		if err := topology.Check(sites); err != nil {
			var c topology.Conflict
			if errors.As(err, &c) {
				other := c.Sites[0]
				if other == name {
					other = c.Sites[1]
				}
				return errorf(http.StatusBadRequest, "network %s is already in site %s: a network belongs to one site", c.Network, other)
			}
			return errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "topology: "))
		}
		after = replaceSite(all, store.SiteEntry{Key: key, Name: name, Site: want})
		if cur != nil && cur.Key == key && bytes.Equal(cur.Raw, b) {
			return nil
		}
		t.put(key, b)
		return nil
	})
	if herr != nil {
		return herr
	}
	e, _ := findSite(after, name)
	writeJSON(w, siteView(e, after))
	return nil
}

// deleteSite: DELETE /skydns/sites/{site}. A site that another site names
// as its fallback is not deleted (409): the other site's value would then
// be one the API refuses to write. Records whose site field names it stay;
// their addresses are placed by their networks again.
func (a *API) deleteSite(w http.ResponseWriter, r *http.Request) *httpError {
	name, herr := siteName(r)
	if herr != nil {
		return herr
	}
	err := a.apply(r.Context(), []string{sitesLock}, func(t *tx) *httpError {
		all := t.sites()
		cur, ok := findSite(all, name)
		if !ok {
			return errorf(http.StatusNotFound, "no site %s", name)
		}
		if users := fallbackOf(name, all); len(users) > 0 {
			return errorf(http.StatusConflict, "site %s is the fallback of %s: remove it from their fallback first",
				name, strings.Join(users, ", "))
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

// sitesLock serializes the site writes of one replica: each reads all of
// them.
const sitesLock = "\x00topology"

func findSite(all []store.SiteEntry, name string) (store.SiteEntry, bool) {
	for _, e := range all {
		if e.Name == name {
			return e, true
		}
	}
	return store.SiteEntry{}, false
}

// replaceSite returns all with e in place of the entry of its name.
func replaceSite(all []store.SiteEntry, e store.SiteEntry) []store.SiteEntry {
	out := make([]store.SiteEntry, 0, len(all)+1)
	for _, o := range all {
		if o.Name != e.Name {
			out = append(out, o)
		}
	}
	out = append(out, e)
	slices.SortFunc(out, func(x, y store.SiteEntry) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// sites returns every stored site and guards them all: the transaction
// fails if any topology key was created or changed after the mirror
// revision they were read at. A deletion is not seen by this guard; only
// the sites a write relies on existing (siteExists) need that.
func (t *tx) sites() []store.SiteEntry {
	all, rev := t.s.SitesSnapshot()
	if !t.guarded["topology"] {
		t.guarded["topology"] = true
		p := t.s.SitePath()
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(p), "<", rev+1).WithPrefix())
		t.orElse = append(t.orElse, clientv3.OpGet(p, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
			clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1)))
	}
	return all
}

// siteExists guards a site the write relies on: the transaction fails if
// its key changed or was deleted since it was read.
func (t *tx) siteExists(e store.SiteEntry) {
	if !t.guarded["site:"+e.Key] {
		t.guarded["site:"+e.Key] = true
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(e.Key), "=", e.ModRev))
		t.orElse = append(t.orElse, clientv3.OpGet(e.Key, clientv3.WithKeysOnly()))
	}
}
