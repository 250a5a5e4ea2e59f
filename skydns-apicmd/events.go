package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// stdin is where -hash-token reads the secret; tests replace it.
var stdin io.Reader = os.Stdin

// listEvents is -events [-ip IP] [-name NAME] [-since T] [-limit N]: the
// history, newest first, one line per event.
func listEvents(c *client, o *options, out io.Writer) error {
	q := url.Values{}
	if o.ip != "" {
		q.Set("ip", o.ip)
	}
	if o.name != "" {
		q.Set("name", o.name)
	}
	if o.since != "" {
		q.Set("since", o.since)
	}
	if o.limit > 0 {
		q.Set("limit", strconv.Itoa(o.limit))
	}
	base := strings.TrimSuffix(c.base, strings.TrimPrefix(apitypes.PathPrefix, "/skydns/")) +
		strings.TrimPrefix(apitypes.EventsPath, "/skydns/")
	var list apitypes.EventList
	raw, err := c.send("GET", base, q, nil, &list)
	if err != nil {
		return err
	}
	if o.json {
		out.Write(raw)
		return nil
	}
	if len(list.Events) == 0 {
		fmt.Fprintln(out, "no events")
		return nil
	}
	for _, e := range list.Events {
		fmt.Fprintf(out, "%s %s", e.Time.Format(timeFormat), e.Kind)
		switch e.Kind {
		case "status":
			from, to := e.From, e.To
			if from == "" {
				from = "none"
			}
			if to == "" {
				to = "removed"
			}
			fmt.Fprintf(out, " ip: %s %s -> %s", strings.Join(e.IPs, ","), from, to)
			if e.Votes != "" {
				fmt.Fprintf(out, " votes: %s", e.Votes)
			}
			if e.Reason != "" {
				fmt.Fprintf(out, " reason: %q", e.Reason)
			}
			if len(e.Agents) > 0 {
				var a []string
				for _, ag := range e.Agents {
					v := ag.Vote
					if v == "" {
						v = "-"
					}
					a = append(a, ag.Name+"="+v)
				}
				fmt.Fprintf(out, " agents: %s", strings.Join(a, ","))
			}
		default:
			fmt.Fprintf(out, " %s %s", e.Method, e.Path)
			user := e.User
			if user == "" {
				user = "-"
			}
			fmt.Fprintf(out, " user: %s from: %s changes: %d", user, e.Remote, len(e.Changes))
			if len(e.IPs) > 0 {
				fmt.Fprintf(out, " ips: %s", strings.Join(e.IPs, ","))
			}
		}
		if len(e.Names) > 0 {
			fmt.Fprintf(out, " names: %s", strings.Join(e.Names, ","))
		}
		fmt.Fprintln(out)
	}
	return nil
}

// hashToken is -hash-token: it reads a secret from the first line of
// standard input (never from a flag, which ps and the shell's history
// would show) and prints its hash for api-tokens-file; with -name and
// -role, the whole line.
func hashToken(o *options, out io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	secret := strings.TrimRight(line, "\r\n")
	if len(secret) < 16 {
		return usagef("-hash-token: give the secret on standard input, at least 16 characters (e.g. head -c 24 /dev/urandom | base64)")
	}
	h := apitypes.HashToken(secret)
	switch {
	case o.name != "" && o.role != "":
		fmt.Fprintf(out, "%s %s %s\n", o.name, o.role, h)
	case o.name != "" || o.role != "":
		return usagef("-hash-token: give both -name and -role for a whole line of api-tokens-file, or neither")
	default:
		fmt.Fprintln(out, h)
	}
	return nil
}
