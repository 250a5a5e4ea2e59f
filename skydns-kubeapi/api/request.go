package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// readBody decodes the JSON body into dst, refusing bodies over the limit,
// unknown fields (a misspelt field would otherwise be silently ignored) and
// trailing data. An empty body is allowed when emptyOK.
func (a *API) readBody(w http.ResponseWriter, r *http.Request, dst any, emptyOK bool) *httpError {
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBody)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes (api-max-body)", mbe.Limit)
		}
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return nil
		}
		return errorf(http.StatusBadRequest, `empty body; want JSON such as {"type":"A","ips":["192.0.2.1"]}`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "bad JSON body: more than one JSON value")
	}
	return nil
}

// parseType reads a request's type; "" is returned as "" when optional.
func parseType(s string, optional bool) (record.Type, *httpError) {
	t := record.Type(strings.ToUpper(strings.TrimSpace(s)))
	switch t {
	case record.TypeA, record.TypeAAAA, record.TypeCNAME, record.TypeSRV, record.TypeNS, record.TypeMX, record.TypeTXT:
		return t, nil
	case "":
		if optional {
			return "", nil
		}
		return "", errorf(http.StatusBadRequest, "type is required: A, AAAA, CNAME, SRV, NS, MX or TXT")
	}
	return "", errorf(http.StatusBadRequest, "unknown type %q: want A, AAAA, CNAME, SRV, NS, MX or TXT", s)
}

// meta is what every record written by a request carries.
type meta struct {
	user    string
	ttl     uint32
	cluster string
	site    string
}

// meta reads the user (body, or ?user= as the original took it) and TTL.
func (a *API) meta(r *http.Request, req *apitypes.Request) (meta, *httpError) {
	m := meta{user: req.User, cluster: a.cfg.Cluster}
	if m.user == "" {
		m.user = r.URL.Query().Get("user")
	}
	if err := checkUser(m.user); err != nil {
		return m, err
	}
	m.user = userOf(r, m.user)
	if req.TTL != nil {
		// RFC 2181 caps TTLs at 2^31-1.
		if *req.TTL < 0 || *req.TTL > 1<<31-1 {
			return m, errorf(http.StatusBadRequest, "ttl %d out of range 0-%d", *req.TTL, 1<<31-1)
		}
		m.ttl = uint32(*req.TTL)
	}
	// A site that does not exist (yet) is accepted: records and sites are
	// written by different people in either order, and until the site
	// exists the DNS server places the address by its networks.
	m.site = strings.TrimSpace(req.Site)
	if m.site != "" && !topology.ValidName(m.site) {
		return m, errorf(http.StatusBadRequest, "site %q: want a lower-case DNS label ([a-z0-9], inner '-', at most 63 characters)", req.Site)
	}
	return m, nil
}

func (m meta) record(t record.Type) record.Record {
	r := record.Record{Type: t, TTL: m.ttl, Source: store.SourceAPI, Cluster: m.cluster, User: m.user}
	if t == record.TypeA || t == record.TypeAAAA {
		r.Site = m.site // only an address is in a site
	}
	return r
}

// ownedByAPI reports whether the API may change a record: it wrote it, or
// nobody said who did (data of the original API and of hand edits).
func ownedByAPI(source string) bool { return source == "" || source == store.SourceAPI }

// foreign describes the owner of a record the API will not touch.
func foreign(e store.Entry) string {
	if e.Record.Cluster != "" {
		return e.Record.Source + " (cluster " + e.Record.Cluster + ")"
	}
	return e.Record.Source
}

// maxText bounds a TXT record's text; it is split into 255-byte strings on
// the wire, and a few kilobytes is more than any TXT use needs.
const maxText = 4096

// resolveTarget turns the target of a CNAME, SRV, NS or MX record into a
// fully qualified name. Unlike names the API owns, a target often lies
// outside the zones: a name with a dot is taken as absolute, and only a
// single label is relative to base.
func (a *API) resolveTarget(raw, base string) (string, *httpError) {
	if strings.Contains(strings.TrimSuffix(raw, "."), ".") {
		n, err := record.NormalizeName(raw)
		if err != nil {
			return "", errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
		}
		return n, nil
	}
	return a.resolve(raw, base)
}
