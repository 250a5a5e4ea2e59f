// Command benchetcd runs a single-member etcd (internal/embedetcd) for the
// DNS benchmark until SIGTERM or SIGINT. It writes its client URL to
// -endpoint-file once it serves clients. fsync is off (-fast): the data is
// generated and thrown away, and loading 3M keys should not wait on a disk.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/skydns/skydns/internal/embedetcd"
)

func main() {
	dir := flag.String("dir", "", "data directory (required)")
	addr := flag.String("addr", "127.0.0.1:0", "client address, host:port (loopback)")
	file := flag.String("endpoint-file", "", "write the client URL here when ready")
	fast := flag.Bool("fast", true, "no fsync, short raft timers")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := embedetcd.Start(ctx, embedetcd.Options{Dir: *dir, ClientAddr: *addr, Fast: *fast, LogLevel: "error"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchetcd:", err)
		os.Exit(1)
	}
	ep := strings.Join(srv.Endpoints(), ",")
	if *file != "" {
		tmp := *file + ".tmp"
		err := os.WriteFile(tmp, []byte(ep+"\n"), 0o644)
		if err == nil {
			err = os.Rename(tmp, *file)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchetcd:", err)
			srv.Close()
			os.Exit(1)
		}
	}
	fmt.Println("benchetcd: serving", ep)
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		fmt.Fprintln(os.Stderr, "benchetcd:", err)
	}
	srv.Close()
}
