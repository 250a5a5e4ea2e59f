// Command dnsload sends DNS queries over UDP at a fixed rate to a server on
// the loopback interface for a fixed time and reports the latency
// distribution (avg, p50, p90, p99, p99.9, max) of every answer. dnsperf
// 2.10 (Debian 12) reports only the average and standard deviation; this
// fills the gap for scripts/bench/run.sh.
//
// It stops by itself: it sends for -duration, waits -timeout for the last
// answers, and exits. It refuses any server address that is not loopback.
//
// With -probe NAME it instead asks NAME until a NOERROR answer with records
// arrives (or -wait passes): run.sh uses that to know a server is serving.
//
// With -echo ADDR it is the server instead: a UDP echo on a loopback address
// for -l, that returns every packet as it came (marked as a response). Its
// latency under the same load is the floor that no DNS server on this
// machine can beat: loopback, scheduler wake-ups, the Go runtime.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dnsload:", err)
		os.Exit(1)
	}
}

func run() error {
	server := flag.String("server", "127.0.0.1:53", "DNS server, loopback host:port")
	file := flag.String("d", "", "query file, dnsperf format: one \"name TYPE\" a line")
	rate := flag.Int("Q", 15000, "queries per second")
	duration := flag.Duration("l", 65*time.Second, "how long to send")
	sockets := flag.Int("c", 4, "UDP sockets (source ports) to send from")
	timeout := flag.Duration("t", time.Second, "an answer later than this counts as lost")
	probe := flag.String("probe", "", "only ask this name until it is answered")
	wait := flag.Duration("wait", 60*time.Second, "with -probe: give up after this long")
	echo := flag.String("echo", "", "serve a UDP echo on this loopback host:port for -l, then exit")
	readyz := flag.String("readyz", "", "only poll this loopback http URL every 5 ms until it answers 200 (or -wait passes)")
	pid := flag.Int("pid", 0, "with -readyz: give up as soon as this process is gone")
	flag.Parse()

	if *readyz != "" {
		return pollReady(*readyz, *pid, *wait)
	}
	if *echo != "" {
		if err := loopbackOnly(*echo); err != nil {
			return err
		}
		return serveEcho(*echo, *duration)
	}
	if err := loopbackOnly(*server); err != nil {
		return err
	}
	if *probe != "" {
		return probeServer(*server, *probe, *wait)
	}
	if *file == "" {
		return errors.New("-d query file is required")
	}
	if *rate <= 0 || *rate > 1_000_000 || *sockets <= 0 || *sockets > 256 {
		return errors.New("-Q must be 1..1000000 and -c 1..256")
	}
	if *duration <= 0 || *duration > time.Hour {
		return errors.New("-l must be positive and at most 1h")
	}
	queries, err := readQueries(*file)
	if err != nil {
		return err
	}
	res, err := load(*server, queries, *rate, *duration, *sockets, *timeout)
	if err != nil {
		return err
	}
	res.print(*server, *rate, *duration)
	return nil
}

func loopbackOnly(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.IsLoopback() {
		return fmt.Errorf("server %q: only loopback addresses (127.0.0.0/8, ::1) are allowed", hostport)
	}
	return nil
}

// readQueries packs every line of a dnsperf data file into a query message
// (RD set and no EDNS, as dnsperf sends them by default).
func readQueries(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], ";") {
			continue
		}
		qtype := dns.TypeA
		if len(fields) > 1 {
			t, ok := dns.StringToType[strings.ToUpper(fields[1])]
			if !ok {
				return nil, fmt.Errorf("%s: unknown type %q", path, fields[1])
			}
			qtype = t
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(fields[0]), qtype)
		b, err := m.Pack()
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no queries", path)
	}
	return out, nil
}

// histogram counts latencies in 1 µs buckets up to histMax; the rare longer
// ones are kept exactly.
const histMax = 200_000 // µs

type histogram struct {
	buckets []uint32
	over    []int64 // µs
	sum     float64 // µs
	n       int64
	max     int64
}

func newHistogram() *histogram { return &histogram{buckets: make([]uint32, histMax)} }

func (h *histogram) add(d time.Duration) {
	us := d.Microseconds()
	if us < histMax {
		h.buckets[us]++
	} else {
		h.over = append(h.over, us)
	}
	h.sum += float64(d) / float64(time.Microsecond)
	h.n++
	h.max = max(h.max, us)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.buckets {
		h.buckets[i] += c
	}
	h.over = append(h.over, o.over...)
	h.sum += o.sum
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency in µs below which a share q of answers fall
// (the upper edge of the bucket that holds rank ceil(q*n)).
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen int64
	for us, c := range h.buckets {
		seen += int64(c)
		if seen >= rank {
			return int64(us) + 1
		}
	}
	slices.Sort(h.over)
	return h.over[rank-seen-1]
}

type result struct {
	hist                                  *histogram
	sent, answered, lost, unmatched       int64
	noerror, nodata, nxdomain, otherRcode int64
	elapsed                               time.Duration
	behind                                time.Duration // worst lag of the sender behind schedule
}

// flight tracks one socket's outstanding queries by DNS id: the send time
// (ns since start, +1 so that 0 means free).
type flight struct {
	conn   *net.UDPConn
	sentAt [65536]atomic.Int64
	hist   *histogram
	r      result
}

func load(server string, queries [][]byte, rate int, duration time.Duration, nsock int, timeout time.Duration) (*result, error) {
	// The sender sleeps in a system call on its own thread; the readers
	// need a P of their own to take answers off the sockets meanwhile.
	runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2))
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return nil, err
	}
	flights := make([]*flight, nsock)
	for i := range flights {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		_ = c.SetReadBuffer(4 << 20)
		flights[i] = &flight{conn: c, hist: newHistogram()}
	}

	start := time.Now()
	since := func() int64 { return int64(time.Since(start)) }
	var wg sync.WaitGroup
	for _, f := range flights {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.read(since, timeout)
		}()
	}

	// Send query k at start + k/rate, catching up in a burst if late.
	runtime.LockOSThread()
	preciseSleepSetup()
	interval := float64(time.Second) / float64(rate)
	total := int64(float64(duration) / interval)
	var behind time.Duration
	buf := make([]byte, 512)
	for k := int64(0); k < total; k++ {
		due := time.Duration(float64(k) * interval)
		now := time.Since(start)
		if d := due - now; d > 0 {
			preciseSleep(d)
		} else {
			behind = max(behind, -d)
		}
		f := flights[k%int64(nsock)]
		q := queries[k%int64(len(queries))]
		id := uint16(k / int64(nsock))
		n := copy(buf, q)
		binary.BigEndian.PutUint16(buf[:2], id)
		if f.sentAt[id].Swap(since()+1) != 0 {
			atomic.AddInt64(&f.r.lost, 1) // never answered, slot reused
		}
		if _, err := f.conn.Write(buf[:n]); err != nil {
			f.sentAt[id].Store(0)
			atomic.AddInt64(&f.r.lost, 1)
		}
		atomic.AddInt64(&f.r.sent, 1)
	}
	runtime.UnlockOSThread()
	sendTime := time.Since(start)

	// Wait for the stragglers, then stop the readers.
	deadline := time.Now().Add(timeout)
	for _, f := range flights {
		_ = f.conn.SetReadDeadline(deadline)
	}
	wg.Wait()

	res := &result{hist: newHistogram(), elapsed: sendTime, behind: behind}
	for _, f := range flights {
		for i := range f.sentAt {
			if f.sentAt[i].Load() != 0 {
				f.r.lost++
			}
		}
		res.hist.merge(f.hist)
		res.sent += f.r.sent
		res.answered += f.r.answered
		res.lost += f.r.lost
		res.unmatched += f.r.unmatched
		res.noerror += f.r.noerror
		res.nodata += f.r.nodata
		res.nxdomain += f.r.nxdomain
		res.otherRcode += f.r.otherRcode
	}
	return res, nil
}

func (f *flight) read(since func() int64, timeout time.Duration) {
	buf := make([]byte, 65535)
	for {
		n, err := f.conn.Read(buf)
		now := since()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ECONNREFUSED from an ICMP error: keep reading
		}
		if n < 12 {
			f.r.unmatched++
			continue
		}
		id := binary.BigEndian.Uint16(buf[:2])
		t := f.sentAt[id].Swap(0)
		if t == 0 {
			f.r.unmatched++
			continue
		}
		lat := time.Duration(now - (t - 1))
		if lat > timeout {
			atomic.AddInt64(&f.r.lost, 1)
			continue
		}
		f.hist.add(lat)
		f.r.answered++
		switch rcode, ancount := buf[3]&0xf, binary.BigEndian.Uint16(buf[6:8]); {
		case rcode == dns.RcodeSuccess && ancount > 0:
			f.r.noerror++
		case rcode == dns.RcodeSuccess:
			f.r.nodata++
		case rcode == dns.RcodeNameError:
			f.r.nxdomain++
		default:
			f.r.otherRcode++
		}
	}
}

func (r *result) print(server string, rate int, duration time.Duration) {
	h := r.hist
	avg := 0.0
	if h.n > 0 {
		avg = h.sum / float64(h.n)
	}
	fmt.Printf("dnsload: %s at %d qps for %s: sent %d, answered %d (%.0f/s), lost %d, unmatched %d; sender at most %s behind schedule\n",
		server, rate, duration, r.sent, r.answered, float64(r.answered)/r.elapsed.Seconds(), r.lost, r.unmatched, r.behind.Round(time.Microsecond))
	fmt.Printf("dnsload: answers: NOERROR with records %d, NODATA %d, NXDOMAIN %d, other %d\n", r.noerror, r.nodata, r.nxdomain, r.otherRcode)
	fmt.Printf("dnsload: latency µs: avg %.0f p50 %d p90 %d p99 %d p99.9 %d max %d\n",
		avg, h.quantile(0.50), h.quantile(0.90), h.quantile(0.99), h.quantile(0.999), h.max)
	// One line for scripts.
	fmt.Printf("RESULT sent=%d answered=%d lost=%d unmatched=%d noerror=%d nodata=%d nxdomain=%d other=%d avg_us=%.0f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
		r.sent, r.answered, r.lost, r.unmatched, r.noerror, r.nodata, r.nxdomain, r.otherRcode,
		avg, h.quantile(0.50), h.quantile(0.90), h.quantile(0.99), h.quantile(0.999), h.max)
}

// probeServer asks name until a NOERROR answer with records comes back.
func probeServer(server, name string, wait time.Duration) error {
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	start := time.Now()
	var last string
	for time.Since(start) < wait {
		r, _, err := c.Exchange(m, server)
		switch {
		case err != nil:
			last = err.Error()
		case r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0:
			fmt.Printf("dnsload: %s answers %s with %d records after %s\n", server, name, len(r.Answer), time.Since(start).Round(time.Millisecond))
			return nil
		default:
			last = fmt.Sprintf("%s with %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer %s within %s (last: %s)", server, name, wait, last)
}

// serveEcho answers every UDP packet on addr with itself, QR bit set, until
// d has passed.
func serveEcho(addr string, d time.Duration) error {
	if d <= 0 || d > time.Hour {
		return errors.New("-l must be positive and at most 1h")
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	defer pc.Close()
	if err := pc.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	fmt.Printf("dnsload: echo on %s for %s\n", pc.LocalAddr(), d)
	buf := make([]byte, 65535)
	var n int64
	for {
		size, from, err := pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				fmt.Printf("dnsload: echo answered %d packets\n", n)
				return nil
			}
			return err
		}
		if size > 2 {
			buf[2] |= 0x80
		}
		if _, err := pc.WriteTo(buf[:size], from); err == nil {
			n++
		}
	}
}

// pollReady asks url every 5 ms until it answers 200. It is cheaper and
// finer than a shell loop around curl, which would take CPU from the server
// whose start-up it is timing.
func pollReady(rawURL string, pid int, wait time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if err := loopbackOnly(net.JoinHostPort(u.Hostname(), port)); err != nil {
		return err
	}
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if pid > 0 {
			if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
				return fmt.Errorf("process %d is gone", pid)
			}
		}
		resp, err := c.Get(rawURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s", rawURL, wait)
}
