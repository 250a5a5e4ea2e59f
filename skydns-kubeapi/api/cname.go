package api

import (
	"net/http"
	"sort"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// postCNAME makes the alias in the body a CNAME of the request's name.
func (a *API) postCNAME(w http.ResponseWriter, r *http.Request, req *apitypes.Request, m meta) *httpError {
	if req.Alias == "" {
		return errorf(http.StatusBadRequest, `alias is required for type CNAME: POST {"type":"cname","alias":"tv1"} on the target name`)
	}
	if req.Policy != nil {
		return errorf(http.StatusBadRequest, "a policy cannot be set with a CNAME; set it on the target name")
	}
	target, err := a.resolveTarget(r.PathValue("name"), a.domains[0])
	if err != nil {
		return err
	}
	alias, err := a.resolve(req.Alias, a.zoneFor(target))
	if err != nil {
		return err
	}
	if err := a.checkWritable(alias); err != nil {
		return err
	}
	err = a.apply(r.Context(), []string{alias}, func(t *tx) *httpError {
		return a.planCNAME(t, alias, target, m)
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// planCNAME makes alias a CNAME of target.
func (a *API) planCNAME(t *tx, alias, target string, m meta) *httpError {
	if alias == target {
		return errorf(http.StatusBadRequest, "%s cannot be an alias of itself", display(alias))
	}
	if a.isZoneApex(alias) {
		return errorf(http.StatusConflict, "%s is a zone apex, which has SOA and NS records; it cannot be a CNAME", display(alias))
	}
	existing := t.records(alias)
	for _, e := range existing {
		if e.Record.Type != record.TypeCNAME {
			return errorf(http.StatusConflict, "%s already has %s records; a CNAME cannot be beside other data",
				display(alias), e.Record.Type)
		}
	}
	for _, e := range existing {
		if e.Record.Host != target {
			return errorf(http.StatusConflict, "%s is already an alias of %s; move it with PUT {\"type\":\"cname\",\"update\":{\"%s\":\"...\"}} on %s, or delete it first",
				display(alias), display(e.Record.Host), display(alias), display(e.Record.Host))
		}
	}
	if len(existing) > 0 {
		return nil // already so
	}
	// Refuse the loops that can be seen; the DNS server stops any others.
	// The chain is read through the transaction, so its guards cover it:
	// two requests making a→b and b→a at once cannot both pass this check
	// on views without the other's CNAME.
	cur := target
	for range 16 {
		next := ""
		for _, e := range t.records(cur) {
			if e.Record.Type == record.TypeCNAME {
				next = e.Record.Host
			}
		}
		if next == "" {
			break
		}
		if next == alias {
			return errorf(http.StatusConflict, "%s is (through CNAMEs) an alias of %s: this would make a CNAME loop", display(target), display(alias))
		}
		cur = next
	}
	rec := m.record(record.TypeCNAME)
	rec.Host = target
	if err := t.putRecord(alias, rec, existing); err != nil {
		return err
	}
	return nil
}

// putCNAME moves aliases of the request's name: update {"old":"new"}. The
// map is one simultaneous rename: {"a":"b","b":"a"} changes nothing and
// {"a":"b","b":"c"} leaves b and c; two aliases cannot become one, and an
// alias cannot move onto a name that is an alias already.
func (a *API) putCNAME(w http.ResponseWriter, r *http.Request, req *apitypes.Request, m meta) *httpError {
	target, err := a.resolveTarget(r.PathValue("name"), a.domains[0])
	if err != nil {
		return err
	}
	zone := a.zoneFor(target)
	type move struct{ old, new string }
	var moves []move
	lock := []string{}
	olds, news := map[string]string{}, map[string]string{} // resolved -> as written
	for o, n := range req.Update {
		oldA, err := a.resolve(o, zone)
		if err != nil {
			return err
		}
		newA, err := a.resolve(n, zone)
		if err != nil {
			return err
		}
		if err := a.checkWritable(oldA); err != nil {
			return err
		}
		if err := a.checkWritable(newA); err != nil {
			return err
		}
		if prev, dup := olds[oldA]; dup {
			return errorf(http.StatusBadRequest, "update names the alias %s twice (%q and %q)", display(oldA), prev, o)
		}
		if prev, dup := news[newA]; dup {
			return errorf(http.StatusBadRequest, "update moves two aliases to %s (from %q and %q): one name is one alias", display(newA), prev, o)
		}
		olds[oldA], news[newA] = o, o
		moves = append(moves, move{oldA, newA})
		lock = append(lock, oldA, newA)
	}
	// Map order is random; plan in one order so a retry sends the same
	// transaction and errors name the same alias.
	sort.Slice(moves, func(i, j int) bool { return moves[i].old < moves[j].old })
	err = a.apply(r.Context(), lock, func(t *tx) *httpError {
		keys := map[string]string{}
		for _, mv := range moves {
			var cur *store.Entry
			for _, e := range t.records(mv.old) {
				if e.Record.Type == record.TypeCNAME {
					cur = &e
				}
			}
			switch {
			case cur == nil:
				return errorf(http.StatusNotFound, "%s is not an alias (has no CNAME)", display(mv.old))
			case cur.Record.Host != target:
				return errorf(http.StatusConflict, "%s is an alias of %s, not of %s", display(mv.old), display(cur.Record.Host), display(target))
			case !ownedByAPI(cur.Record.Source):
				return errorf(http.StatusForbidden, "the CNAME %s belongs to %s; the API does not change it", display(mv.old), foreign(*cur))
			}
			keys[mv.old] = cur.Key
		}
		// An old alias that another move renames onto stays; the others go.
		for _, mv := range moves {
			if _, stays := news[mv.old]; !stays {
				t.del(keys[mv.old])
			}
		}
		for _, mv := range moves {
			if _, was := olds[mv.new]; was {
				continue // an alias before, and after
			}
			for _, e := range t.records(mv.new) {
				if e.Record.Type == record.TypeCNAME && e.Record.Host == target {
					return errorf(http.StatusConflict, "%s is already an alias of %s: moving %s onto it would lose an alias; delete one of them instead",
						display(mv.new), display(target), display(mv.old))
				}
			}
			if err := a.planCNAME(t, mv.new, target, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}
