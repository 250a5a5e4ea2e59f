// Command member runs one member of a multi-member etcd cluster, embedded,
// so that the fault-injection suite (e2e/chaos) can kill -9 a member as a
// separate process without needing an etcd installed. Not for real data:
// fsync is off and raft's timers are short.
package main

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	name := flag.String("name", "", "member name")
	dir := flag.String("dir", "", "data directory (reuse it to restart the member)")
	listenClient := flag.String("listen-client", "", "client URL to listen on")
	advClient := flag.String("advertise-client", "", "client URL to advertise (the suite's proxy)")
	listenPeer := flag.String("listen-peer", "", "peer URL to listen on")
	advPeer := flag.String("advertise-peer", "", "peer URL to advertise (the suite's proxy)")
	cluster := flag.String("initial-cluster", "", "name=peerURL,... of every member")
	flag.Parse()

	cfg := embed.NewConfig()
	cfg.Name = *name
	cfg.Dir = *dir
	cfg.LogLevel = "error"
	cfg.InitialCluster = *cluster
	cfg.InitialClusterToken = "skydns-chaos"
	cfg.ClusterState = embed.ClusterStateFlagNew
	// Production-like raft timers scaled down, but not so short that a
	// loaded 2-core machine sees elections from scheduling delays alone.
	cfg.TickMs = 50
	cfg.ElectionMs = 500
	cfg.UnsafeNoFsync = true
	cfg.ListenClientUrls = []url.URL{mustURL(*listenClient)}
	cfg.AdvertiseClientUrls = []url.URL{mustURL(*advClient)}
	cfg.ListenPeerUrls = []url.URL{mustURL(*listenPeer)}
	cfg.AdvertisePeerUrls = []url.URL{mustURL(*advPeer)}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println("member ready")
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	case <-sig:
		e.Close()
		return
	}
	select {
	case err := <-e.Err():
		fmt.Fprintln(os.Stderr, "member:", err)
		os.Exit(1)
	case <-sig:
		e.Close()
	}
}

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		fmt.Fprintf(os.Stderr, "member: bad URL %q\n", s)
		os.Exit(2)
	}
	return *u
}
