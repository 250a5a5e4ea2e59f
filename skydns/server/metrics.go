package server

import (
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns/zone"
)

// Metrics are the DNS server's Prometheus metrics and the per-name counts
// behind the stats API.
type Metrics struct {
	requests      *prometheus.CounterVec
	responses     *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	selections    *prometheus.CounterVec
	allDowns      *prometheus.CounterVec
	forwardErrors prometheus.Counter
	writeErrors   prometheus.Counter
	// TCP connections: open now, closed at once for being over the cap,
	// and failed accepts (each followed by a pause).
	tcpConns        prometheus.Gauge
	tcpRefused      prometheus.Counter
	tcpAcceptErrors prometheus.Counter
	// udpDropped counts datagrams dropped with max-concurrent-queries
	// on the reference path.
	udpDropped prometheus.Counter
	// Top counts queries per name for /skydns/stats/top.
	Top  *TopNames
	fast fastCounters
}

// NewMetrics registers the metrics with reg (nil: a private registry, for
// tests) including gauges read from store.
func NewMetrics(reg prometheus.Registerer, store *zone.Store) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_dns_requests_total", Help: "DNS requests by transport and query type.",
		}, []string{"transport", "type"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_dns_responses_total", Help: "DNS responses by rcode.",
		}, []string{"rcode"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "skydns_dns_request_duration_seconds", Help: "Time to answer a request, by transport.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 2.5},
		}, []string{"transport"}),
		selections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_dns_selections_total", Help: "Address answers by selection mode.",
		}, []string{"mode"}),
		allDowns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_dns_all_down_total", Help: "Address answers for names whose every IP was down, by the action taken.",
		}, []string{"action"}),
		forwardErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_dns_forward_failures_total", Help: "Forwarded queries that got no upstream answer.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_dns_write_errors_total", Help: "Responses that could not be sent.",
		}),
		tcpConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skydns_dns_tcp_connections", Help: "TCP connections open now.",
		}),
		tcpRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_dns_tcp_refused_total", Help: "TCP connections closed as soon as accepted, max-tcp-connections being open.",
		}),
		tcpAcceptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_dns_tcp_accept_errors_total", Help: "Failed TCP accepts (file descriptors exhausted, say), each followed by a pause of up to 1s.",
		}),
		udpDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_dns_udp_dropped_total", Help: "UDP queries dropped unanswered, max-concurrent-queries being answered off the fast path.",
		}),
		Top: NewTopNames(10000),
	}
	reg.MustRegister(m.requests, m.responses, m.duration, m.selections, m.allDowns, m.forwardErrors, m.writeErrors,
		m.tcpConns, m.tcpRefused, m.tcpAcceptErrors, m.udpDropped)
	if store != nil {
		registerStore(reg, store)
	}
	m.initFast()
	return m
}

func registerStore(reg prometheus.Registerer, s *zone.Store) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		gauge("skydns_view_names", "Names with records in the served zones.", func() float64 {
			n := 0
			for _, z := range s.Zones() {
				n += z.Len()
			}
			return float64(n)
		}),
		gauge("skydns_view_health_ips", "IPs with a health status.", func() float64 { t, _ := s.HealthCount(); return float64(t) }),
		gauge("skydns_view_health_down_ips", "IPs whose status is DOWN.", func() float64 { _, d := s.HealthCount(); return float64(d) }),
		gauge("skydns_etcd_revision", "Highest etcd revision heard from etcd (compare with etcdctl endpoint status).", func() float64 { return float64(s.Status().Seen) }),
		gauge("skydns_etcd_stale", "1 while etcd has not confirmed the view recently; answers come from the last state.", func() float64 { return b2f(s.Status().Stale) }),
		gauge("skydns_etcd_ready", "1 once every view has loaded.", func() float64 { return b2f(s.Status().Loaded) }),
		gauge("skydns_etcd_last_sync_age_seconds", "Seconds since etcd last confirmed the view current.", func() float64 {
			t := s.Status().LastSync
			if t.IsZero() {
				return -1
			}
			return time.Since(t).Seconds()
		}),
		counter("skydns_etcd_watch_restarts_total", "Watches re-established after a failure.", func() float64 { return float64(s.Status().Restarts) }),
		counter("skydns_etcd_reloads_total", "Full reloads after lost history (compaction).", func() float64 { return float64(s.Status().Reloads) }),
	)
}

func (m *Metrics) observe(req, resp *dns.Msg, q *query, d time.Duration) {
	transport := "udp"
	if q.tcp {
		transport = "tcp"
	}
	qtype := "none"
	if len(req.Question) == 1 {
		t := req.Question[0].Qtype
		qtype = dns.TypeToString[t]
		if qtype == "" {
			qtype = "other"
		}
		// Refused, malformed and unimplemented queries name nothing we
		// serve: counting them would let anyone fill the table.
		switch resp.Rcode {
		case dns.RcodeRefused, dns.RcodeFormatError, dns.RcodeNotImplemented:
		default:
			m.Top.Add(strings.ToLower(req.Question[0].Name))
		}
	}
	m.requests.WithLabelValues(transport, qtype).Inc()
	rcode := dns.RcodeToString[resp.Rcode]
	if rcode == "" {
		rcode = "other"
	}
	m.responses.WithLabelValues(rcode).Inc()
	m.duration.WithLabelValues(transport).Observe(d.Seconds())
	if q.mode != policy.ModeDefault {
		m.selections.WithLabelValues(string(q.mode)).Inc()
	}
}

func (m *Metrics) allDown(action policy.AllDown) { m.allDowns.WithLabelValues(string(action)).Inc() }

// fastCounters are the fast path's metric children, resolved once: a
// label lookup per query would cost more than the answer.
type fastCounters struct {
	reqA, reqAAAA prometheus.Counter
	noerror       prometheus.Counter
	duration      prometheus.Observer
	modes         map[policy.Mode]prometheus.Counter
}

func (m *Metrics) initFast() {
	m.fast = fastCounters{
		reqA:     m.requests.WithLabelValues("udp", "A"),
		reqAAAA:  m.requests.WithLabelValues("udp", "AAAA"),
		noerror:  m.responses.WithLabelValues("NOERROR"),
		duration: m.duration.WithLabelValues("udp"),
		modes:    map[policy.Mode]prometheus.Counter{},
	}
	for _, mode := range []policy.Mode{policy.ModeAll, policy.ModeRandom, policy.ModeWeighted, policy.ModePriority, policy.ModeHoldOne} {
		m.fast.modes[mode] = m.selections.WithLabelValues(string(mode))
	}
}

func (m *Metrics) observeFast(name string, qtype uint16, mode policy.Mode, d time.Duration) {
	if qtype == dns.TypeA {
		m.fast.reqA.Inc()
	} else {
		m.fast.reqAAAA.Inc()
	}
	m.fast.noerror.Inc()
	m.fast.duration.Observe(d.Seconds())
	if c := m.fast.modes[mode]; c != nil {
		c.Inc()
	}
	m.Top.Add(name)
}
