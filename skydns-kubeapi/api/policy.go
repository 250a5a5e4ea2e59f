package api

import (
	"net/http"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// checkPolicy validates a policy from a request.
func checkPolicy(p policy.Policy) *httpError {
	if err := p.Validate(); err != nil {
		return errorf(http.StatusBadRequest, "%s", err)
	}
	return nil
}

// planPolicy sets the policy of name.
func (a *API) planPolicy(t *tx, name string, p policy.Policy, m meta) *httpError {
	cur, ok := t.policy(name)
	if ok && !ownedByAPI(cur.Source) {
		return errorf(http.StatusForbidden, "the policy of %s belongs to %s; the API does not change it", display(name), cur.Source)
	}
	b, err := store.EncodePolicy(store.StoredPolicy{Policy: p, Source: store.SourceAPI, Cluster: m.cluster, User: m.user})
	if err != nil {
		return errorf(http.StatusBadRequest, "%s", err)
	}
	key := policy.Key(t.prefix, name)
	if ok && cur.Key != key {
		t.del(cur.Key)
	}
	if ok && cur.Key == key {
		if old, err := store.EncodePolicy(store.StoredPolicy{Policy: cur.Policy, Source: cur.Source, Cluster: cur.Cluster, User: cur.User}); err == nil && string(old) == string(b) {
			return nil
		}
	}
	t.put(key, b)
	return nil
}

// setPolicy sets the policy of the request's name.
func (a *API) setPolicy(w http.ResponseWriter, r *http.Request, p policy.Policy, m meta) *httpError {
	name, err := a.writableName(r.PathValue("name"))
	if err != nil {
		return err
	}
	if err := checkPolicy(p); err != nil {
		return err
	}
	if err := a.apply(r.Context(), []string{name}, func(t *tx) *httpError { return a.planPolicy(t, name, p, m) }); err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// putPolicy: PUT /skydns/api/{name}/policy with a policy as the body.
func (a *API) putPolicy(w http.ResponseWriter, r *http.Request) *httpError {
	var p policy.Policy
	if err := a.readBody(w, r, &p, false); err != nil {
		return err
	}
	m, err := a.meta(r, &apitypes.Request{})
	if err != nil {
		return err
	}
	return a.setPolicy(w, r, p, m)
}

// deletePolicy: DELETE /skydns/api/{name}/policy.
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request) *httpError {
	if err := noteUser(r, ""); err != nil {
		return err
	}
	name, err := a.writableName(r.PathValue("name"))
	if err != nil {
		return err
	}
	err = a.apply(r.Context(), []string{name}, func(t *tx) *httpError {
		cur, ok := t.policy(name)
		if !ok {
			return errorf(http.StatusNotFound, "%s has no policy", display(name))
		}
		if !ownedByAPI(cur.Source) {
			return errorf(http.StatusForbidden, "the policy of %s belongs to %s; the API does not change it", display(name), cur.Source)
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
