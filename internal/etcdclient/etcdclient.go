// Package etcdclient builds etcd v3 clients the same way for every SkyDNS
// program: endpoints, optional TLS, timeouts, and gRPC keep-alives that notice
// a dead member in seconds rather than minutes.
package etcdclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Options describes how to reach etcd.
type Options struct {
	Endpoints []string
	// CAFile, CertFile and KeyFile enable TLS. CAFile alone verifies the
	// server; CertFile and KeyFile together add a client certificate.
	CAFile, CertFile, KeyFile string
	// DialTimeout bounds the first connection. Default 5s.
	DialTimeout time.Duration
}

// redialMax is the longest gRPC waits before dialling a lost member again.
const redialMax = 500 * time.Millisecond

// New returns a client. It does not wait for etcd to be reachable: the
// daemons must start, and keep serving, while etcd is away.
func New(o Options) (*clientv3.Client, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	return clientv3.New(clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          o.DialTimeout,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		TLS:                  tlsCfg,
		// gRPC redials a lost member after 1 s, growing by 1.6 up to
		// 120 s: after a long outage the client would find etcd back only
		// minutes later. At most 0.5 s keeps recovery within a second.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: redialMax},
			MinConnectTimeout: o.DialTimeout,
		})},
		// The client's own reconnect chatter is not the operator's business;
		// the views report staleness in our own logs and metrics.
		Logger: zap.NewNop(),
	})
}

// Answers returns a probe for backoff.WaitUntil: a linearizable read of
// one key, which succeeds only once cli reaches a member that has a
// leader, that is when what failed against etcd may work again.
func Answers(cli *clientv3.Client) func(context.Context) bool {
	return func(ctx context.Context) bool {
		_, err := cli.Get(ctx, "/", clientv3.WithKeysOnly())
		return err == nil
	}
}

func tlsConfig(o Options) (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd: CA file %s: no PEM certificate in it", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("etcd: a client certificate needs both the cert file and the key file")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
