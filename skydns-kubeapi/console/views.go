package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/election"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns/explain"
)

type namesData struct {
	Query   string
	Names   []apitypes.Name
	Next    string // the after of the next page, "" on the last
	Scanned int
	Partial bool // the search stopped at maxScan names
}

// names is the names view: a page of names in the store's order, those
// containing the search text when there is one. The store keeps the names
// sorted, so a page costs its own size, however many names there are.
func (c *Console) names(_ http.ResponseWriter, r *http.Request, s session) (string, page, int, error) {
	q := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("q")))
	after := r.URL.Query().Get("after")
	d := namesData{Query: q}
	for d.Scanned < maxScan && len(d.Names) < PageSize {
		batch, next := c.o.Names(after, 1000)
		for i, n := range batch {
			if q != "" && !strings.Contains(n, q) {
				continue
			}
			var v apitypes.Name
			if _, err := c.call(r, s, http.MethodGet, apitypes.PathPrefix+url.PathEscape(n), nil, &v); err != nil {
				continue // gone meanwhile
			}
			d.Names = append(d.Names, v)
			if len(d.Names) == PageSize {
				if i < len(batch)-1 || next != "" {
					d.Next = n
				}
				break
			}
		}
		d.Scanned += len(batch)
		if len(d.Names) == PageSize || next == "" {
			break
		}
		after = next
	}
	if d.Scanned >= maxScan && len(d.Names) < PageSize {
		d.Partial = true
		d.Next = after
	}
	return "names", page{Title: "Names", Nav: "names", Live: true, Data: d}, 0, nil
}

type nameData struct {
	Name  apitypes.Name
	Back  string
	Query string
}

// name is one name: its records, each IP's health, site and override.
func (c *Console) name(_ http.ResponseWriter, r *http.Request, s session) (string, page, int, error) {
	n := r.PathValue("name")
	var v apitypes.Name
	if status, err := c.call(r, s, http.MethodGet, apitypes.PathPrefix+url.PathEscape(n), nil, &v); err != nil {
		return "", page{}, status, err
	}
	return "name", page{Title: v.Name, Nav: "names", Live: true,
		Data: nameData{Name: v, Back: r.URL.RequestURI()}}, 0, nil
}

// overrides lists the overrides.
func (c *Console) overrides(_ http.ResponseWriter, r *http.Request, s session) (string, page, int, error) {
	var l apitypes.OverrideList
	if status, err := c.call(r, s, http.MethodGet, apitypes.OverridesPrefix, nil, &l); err != nil {
		return "", page{}, status, err
	}
	return "overrides", page{Title: "Overrides", Nav: "overrides", Live: true, Data: l}, 0, nil
}

type agent struct {
	Name      string
	Heartbeat monitor.Heartbeat
	Targets   []string
}

type agentsData struct {
	Available bool
	Error     string
	Leader    string
	LockKey   string
	Agents    []agent
	Orphans   int // jobs of agents that are gone
}

// agents reads the agents' heartbeats, their jobs and the schedule leader
// from etcd: the store does not mirror them, and they are read only when
// this page is.
func (c *Console) agents(_ http.ResponseWriter, r *http.Request, _ session) (string, page, int, error) {
	d := agentsData{LockKey: c.o.LockKey}
	p := page{Title: "Agents", Nav: "agents", Live: true, Data: &d}
	if c.o.Etcd == nil {
		return "agents", p, 0, nil
	}
	d.Available = true
	ctx := r.Context()
	hearts, err := c.o.Etcd.Get(ctx, c.o.Paths.Heart, clientv3.WithPrefix())
	if err != nil {
		d.Error = err.Error()
		return "agents", p, 0, nil
	}
	byName := map[string]*agent{}
	for _, kv := range hearts.Kvs {
		name, err := c.o.Paths.ParseAgentKey(string(kv.Key))
		if err != nil {
			continue
		}
		byName[name] = &agent{Name: name, Heartbeat: monitor.DecodeHeartbeat(kv.Value)}
	}
	jobs, err := c.o.Etcd.Get(ctx, c.o.Paths.Job, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		d.Error = err.Error()
		return "agents", p, 0, nil
	}
	for _, kv := range jobs.Kvs {
		name, ip, err := c.o.Paths.ParseJobKey(string(kv.Key))
		if err != nil {
			continue
		}
		if a := byName[name]; a != nil {
			a.Targets = append(a.Targets, ip.String())
		} else {
			d.Orphans++
		}
	}
	for _, a := range byName {
		sort.Slice(a.Targets, func(i, j int) bool { return addrLess(a.Targets[i], a.Targets[j]) })
		d.Agents = append(d.Agents, *a)
	}
	sort.Slice(d.Agents, func(i, j int) bool { return d.Agents[i].Name < d.Agents[j].Name })
	if c.o.LockKey != "" {
		// The lock is an etcd election under the key: the oldest
		// campaigner leads.
		lock, err := c.o.Etcd.Get(ctx, strings.TrimRight(c.o.LockKey, "/")+"/", clientv3.WithPrefix())
		if err == nil && len(lock.Kvs) > 0 {
			first := lock.Kvs[0]
			for _, kv := range lock.Kvs {
				if kv.CreateRevision < first.CreateRevision {
					first = kv
				}
			}
			d.Leader = election.Holder(first.Value)
		}
	}
	return "agents", p, 0, nil
}

func addrLess(a, b string) bool {
	x, e1 := netip.ParseAddr(a)
	y, e2 := netip.ParseAddr(b)
	if e1 == nil && e2 == nil {
		return x.Less(y)
	}
	return a < b
}

type eventsData struct {
	Available bool
	Error     string
	IP, Name  string
	Events    []Event
}

// events is the timeline of recent events, from the EventSource.
func (c *Console) events(_ http.ResponseWriter, r *http.Request, _ session) (string, page, int, error) {
	q := r.URL.Query()
	d := eventsData{IP: q.Get("ip"), Name: q.Get("name")}
	if c.o.Events != nil {
		d.Available = true
		evs, err := c.o.Events.Events(r.Context(), EventQuery{IP: d.IP, Name: d.Name, Limit: 100})
		if err != nil {
			d.Error = err.Error()
		}
		d.Events = evs
	}
	return "events", page{Title: "Events", Nav: "events", Live: d.Available, Data: d}, 0, nil
}

type explainData struct {
	Enabled bool
	Name    string
	Type    string
	Client  string
	Error   string
	E       *explain.Explanation
}

// explain asks the DNS server why it answers a name as it does for a
// client, and shows its answer.
func (c *Console) explain(_ http.ResponseWriter, r *http.Request, _ session) (string, page, int, error) {
	q := r.URL.Query()
	d := explainData{Enabled: c.o.ExplainURL != "", Name: strings.TrimSpace(q.Get("name")),
		Type: strings.ToUpper(strings.TrimSpace(q.Get("type"))), Client: strings.TrimSpace(q.Get("client"))}
	if d.Type == "" {
		d.Type = "A"
	}
	p := page{Title: "Explain", Nav: "explain", Data: &d}
	if !d.Enabled || d.Name == "" {
		return "explain", p, 0, nil
	}
	e, err := c.askExplain(r, d.Name, d.Type, d.Client)
	if err != nil {
		d.Error = err.Error()
	}
	d.E = e
	return "explain", p, 0, nil
}

func (c *Console) askExplain(r *http.Request, name, typ, client string) (*explain.Explanation, error) {
	v := url.Values{"name": {name}, "type": {typ}}
	if client != "" {
		v.Set("client", client)
	}
	target := strings.TrimRight(c.o.ExplainURL, "/") + "/skydns/explain?" + v.Encode()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if c.o.ExplainToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.ExplainToken)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking the DNS server at %s: %w", c.o.ExplainURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the DNS server at %s answered %s: %s", c.o.ExplainURL, resp.Status, strings.TrimSpace(string(b)))
	}
	var e explain.Explanation
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("reading the DNS server's answer: %w", err)
	}
	return &e, nil
}

// consoleUser is the user of the overrides the console writes.
const consoleUser = "console"

// drain takes an IP out of the answers: an override DOWN, through the API.
func (c *Console) drain(r *http.Request, s session) (int, error) {
	ip := r.PostFormValue("ip")
	if _, err := netip.ParseAddr(ip); err != nil {
		return http.StatusBadRequest, errors.New("not an IP address: " + ip)
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		reason = "drained from the console"
	}
	// Until named tokens say who holds the token, the override says it
	// came from the console.
	req := apitypes.OverrideRequest{Status: "DOWN", Reason: reason, User: consoleUser}
	return c.call(r, s, http.MethodPut, apitypes.OverridesPrefix+ip, req, nil)
}

// undrain removes the override of an IP: the checkers decide again.
func (c *Console) undrain(r *http.Request, s session) (int, error) {
	ip := r.PostFormValue("ip")
	if _, err := netip.ParseAddr(ip); err != nil {
		return http.StatusBadRequest, errors.New("not an IP address: " + ip)
	}
	return c.call(r, s, http.MethodDelete, apitypes.OverridesPrefix+ip, nil, nil)
}
