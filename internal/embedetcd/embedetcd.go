// Package embedetcd runs a real etcd server inside the current process.
//
// Tests use it so that every test talks to a genuine etcd (watches, leases,
// compaction and all), and the local stack uses it so that `make run` needs
// nothing installed. Production deployments point at an etcd cluster instead.
package embedetcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options says where and how the server runs. The zero value is not useful:
// Dir is required.
type Options struct {
	// Dir holds the member's data. Reusing a Dir restarts the same member
	// with its data.
	Dir string
	// ClientAddr is the host:port clients connect to; port 0 picks a free
	// one. Default 127.0.0.1:0.
	ClientAddr string
	// Fast shortens raft's heartbeat and election timers (10 ms / 100 ms) and
	// skips fsync, so that tests start in milliseconds. Never for real data.
	Fast bool
	// LogLevel is etcd's own log level (its zap logger). Default "error":
	// etcd's info logs drown a test's or a daemon's own.
	LogLevel string
	// StartTimeout bounds how long Start waits for the member to be ready.
	// Default 30s.
	StartTimeout time.Duration

	// Name, PeerAddr and InitialCluster make the member one of several
	// (tests of member loss and leader change): its name, the host:port
	// its peers reach it on, and every member as "name=http://host:port,...".
	// Empty: a cluster of one, named "skydns", on a free peer port.
	Name, PeerAddr, InitialCluster string
	// ElectionMs overrides Fast's election timeout (the heartbeat is a
	// tenth of it): a cluster on a loaded test machine needs more than
	// 100 ms not to hold elections by itself.
	ElectionMs uint
}

// Server is a running embedded etcd member.
type Server struct {
	etcd      *embed.Etcd
	endpoints []string
	closing   *atomic.Bool
}

// Start starts a single-member cluster and waits until it serves clients.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("embedetcd: a data directory is required")
	}
	if o.ClientAddr == "" {
		o.ClientAddr = "127.0.0.1:0"
	}
	if o.LogLevel == "" {
		o.LogLevel = "error"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}

	host, _, err := net.SplitHostPort(o.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: client address %q: %w", o.ClientAddr, err)
	}
	// The peer port is never dialled by a single member, but etcd requires
	// one; a free port on the same host keeps it off any real network.
	peer := o.PeerAddr
	if peer == "" {
		if peer, err = freePort(host); err != nil {
			return nil, err
		}
	}

	cfg := embed.NewConfig()
	cfg.Name = "skydns"
	if o.Name != "" {
		cfg.Name = o.Name
	}
	cfg.Dir = o.Dir
	closing := new(atomic.Bool)
	level, err := zapcore.ParseLevel(o.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: log level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(os.Stderr)), level)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(quietClose{core, closing}))
	clientURL := url.URL{Scheme: "http", Host: o.ClientAddr}
	peerURL := url.URL{Scheme: "http", Host: peer}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if o.InitialCluster != "" {
		cfg.InitialCluster = o.InitialCluster
	}
	if o.Fast {
		cfg.TickMs = 10
		cfg.ElectionMs = 100
		cfg.UnsafeNoFsync = true
	}
	if o.ElectionMs != 0 {
		cfg.TickMs, cfg.ElectionMs = o.ElectionMs/10, o.ElectionMs
	}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("embedetcd: start: %w", err)
	}
	timer := time.NewTimer(o.StartTimeout)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedetcd: %w", err)
	case <-timer.C:
		e.Close()
		return nil, fmt.Errorf("embedetcd: not ready after %s", o.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}

	s := &Server{etcd: e, closing: closing}
	for _, l := range e.Clients {
		s.endpoints = append(s.endpoints, "http://"+l.Addr().String())
	}
	return s, nil
}

// Endpoints are the client URLs, with the real port when port 0 was asked.
func (s *Server) Endpoints() []string { return append([]string(nil), s.endpoints...) }

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// IsLeader reports whether this member is the raft leader now.
func (s *Server) IsLeader() bool { return s.etcd.Server.Leader() == s.etcd.Server.MemberID() }

// Kill stops the member as a crash would: no leadership transfer, requests
// in flight are dropped. (Close hands leadership over first.)
func (s *Server) Kill() {
	s.closing.Store(true)
	s.etcd.Server.HardStop()
	s.Close()
}

// Close stops the server. Close the clients first: etcd waits for open
// client streams to drain, which takes seconds otherwise.
func (s *Server) Close() {
	s.closing.Store(true)
	s.etcd.Close()
	<-s.etcd.Server.StopNotify()
}

func freePort(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("embedetcd: pick a peer port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// quietClose drops the errors etcd logs about its own listeners closing
// while it shuts down: they are expected then, and alarming to read.
type quietClose struct {
	zapcore.Core
	closing *atomic.Bool
}

func (q quietClose) With(f []zapcore.Field) zapcore.Core {
	return quietClose{q.Core.With(f), q.closing}
}

func (q quietClose) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.closing.Load() && e.Level >= zapcore.ErrorLevel {
		return ce
	}
	if q.Enabled(e.Level) {
		return ce.AddCore(e, q)
	}
	return ce
}
