package console

import (
	"context"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/events"
)

// History is the EventSource of the events SkyDNS keeps in etcd
// (internal/events): the same listing GET /skydns/events answers.
type History struct {
	Etcd   *clientv3.Client
	Prefix string // etcd-prefix
}

// Events lists the events q selects, newest first, as timeline entries.
func (h History) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	evs, err := events.List(ctx, h.Etcd, h.Prefix, events.Query{IP: q.IP, Name: q.Name, Limit: q.Limit})
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, timelineEntry(e))
	}
	return out, nil
}

// timelineEntry is what one line of the timeline shows of an event.
func timelineEntry(e events.Event) Event {
	t := Event{Time: e.Time, Kind: e.Kind, IP: strings.Join(e.IPs, " "), Name: strings.Join(e.Names, " "),
		From: e.From, To: e.To, User: e.User}
	switch {
	case e.Method != "":
		t.Detail = fmt.Sprintf("%s %s (%d keys changed)", e.Method, e.Path, len(e.Changes))
	default:
		var votes []string
		for _, a := range e.Agents {
			v := a.Vote
			if v == "" {
				v = "-"
			}
			votes = append(votes, a.Name+"="+v)
		}
		t.Detail = strings.TrimSpace(strings.Join([]string{e.Votes, e.Reason, strings.Join(votes, ",")}, " "))
	}
	return t
}
