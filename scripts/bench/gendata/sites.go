package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/topology"
)

// The benchmark's topology, issue 11's case: 1,000 networks over 10 sites.
const (
	numSites     = 10
	numNetworks  = 1000
	backendNets  = 800 // at most, around the backends; client /24s of 127/8 make up the rest
	clientSite   = "site0"
	probesWanted = 32
)

// siteName is the name of site number k.
func siteName(k int) string { return "site" + strconv.Itoa(k) }

// SiteSet is the topology the benchmark writes, and what it does to the
// plan's names.
type SiteSet struct {
	Client      netip.Addr // in site0
	Sites       map[string]topology.Site
	BackendNets int // networks around the backends, each a /BackendBits
	BackendBits int
	ClientNets  int // /24s of 127/8, the client's 127.0.0.0/24 in site0
	// InClientSite counts the names with at least one address in the
	// client's site; Probes are names whose answer tells the sites on from
	// off (see Probe).
	InClientSite int
	Probes       []Probe
}

// Probe is a name with exactly one address in the client's site, that
// address UP and another one UP elsewhere: a client in site0 gets Local
// alone while the sites are defined, and something else without them
// (all healthy addresses, or a hold-one pick among them).
type Probe struct {
	Name  string
	Local netip.Addr
}

// Sites builds the topology for a client at client (127.0.0.1 for
// dnsperf): 10 sites with numNetworks networks in all. The backends' used
// addresses are cut into the smallest aligned blocks of which there are at
// most backendNets, each block in a site chosen by a seeded hash, so that
// with Spread a name's addresses land in independent sites: a client in
// site0 gets site0's address for about a quarter of the names and a
// fallback site's for the rest. Client networks, /24s of 127/8 over the
// sites in turn, bring the count to numNetworks; the client's own /24 is
// in site0. Each site falls back to the next two (site9 to site0, site1).
func (p *Plan) Sites(client netip.Addr) (*SiteSet, error) {
	if !client.Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(client) {
		return nil, fmt.Errorf("sites: client %s: want an IPv4 loopback address", client)
	}
	used := p.UsedIPs()
	u32 := func(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }
	bits := 0
	var blocks []uint32
	for b := 32; b >= 8; b-- {
		m := ^uint32(0) << (32 - b)
		seen := map[uint32]bool{}
		for j := range used {
			seen[u32(p.UsedIP(j))&m] = true
			if len(seen) > backendNets {
				break
			}
		}
		if len(seen) <= backendNets {
			bits = b
			blocks = blocks[:0]
			for s := range seen {
				blocks = append(blocks, s)
			}
			break
		}
	}
	if bits == 0 {
		return nil, fmt.Errorf("sites: no block size gives at most %d networks", backendNets)
	}
	slices.Sort(blocks)
	nets := make([][]string, numSites)
	addNet := func(site int, a uint32, b int) {
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], a)
		nets[site] = append(nets[site], netip.PrefixFrom(netip.AddrFrom4(ip), b).String())
	}
	for _, a := range blocks {
		addNet(int(splitmix(p.Seed^0x517e5^uint64(a))%numSites), a, bits)
	}
	clientNet := u32(client) &^ 0xff
	clients := numNetworks - len(blocks)
	for c := range clients {
		// c = 0 is the client's own /24; the others step over 127/8.
		a := clientNet + uint32(c)<<8
		if a>>24 != 127 {
			return nil, fmt.Errorf("sites: client %s too high in 127/8 for %d client networks", client, clients)
		}
		addNet(c%numSites, a, 24)
	}
	set := &SiteSet{Client: client, Sites: map[string]topology.Site{}, BackendNets: len(blocks), BackendBits: bits, ClientNets: clients}
	for k := range numSites {
		set.Sites[siteName(k)] = topology.Site{
			Networks: nets[k],
			Fallback: []string{siteName((k + 1) % numSites), siteName((k + 2) % numSites)},
		}
	}

	// What the server will make of it: the table the server compiles.
	top, problems := topology.Compile(set.Sites)
	if len(problems) > 0 {
		return nil, problems[0]
	}
	home := top.Index(clientSite)
	if top.Site(client) != home {
		return nil, fmt.Errorf("sites: client %s is not in %s", client, clientSite)
	}
	for i := range p.Names {
		var local netip.Addr
		inSite, otherUp := 0, false
		for k := range p.IPsPerName {
			a := p.IP(i, k)
			if top.Site(a) == home {
				inSite++
				local = a
			} else if !p.Down(a) {
				otherUp = true
			}
		}
		if inSite > 0 {
			set.InClientSite++
		}
		if inSite == 1 && !p.Down(local) && otherUp && len(set.Probes) < probesWanted {
			set.Probes = append(set.Probes, Probe{Name: p.Name(i), Local: local})
		}
	}
	if len(set.Probes) == 0 {
		return nil, fmt.Errorf("sites: no name has exactly one healthy address in %s (try -spread)", clientSite)
	}
	return set, nil
}

// Put writes the sites in one transaction, so that the server compiles
// them once.
func (s *SiteSet) Put(ctx context.Context, cli *clientv3.Client, prefix string) error {
	var ops []clientv3.Op
	for name, site := range s.Sites {
		v, err := site.Encode(name)
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(topology.Key(prefix, name), string(v)))
	}
	_, err := cli.Txn(ctx).Then(ops...).Commit()
	return err
}

// DeleteSites removes every site in one delete.
func DeleteSites(ctx context.Context, cli *clientv3.Client, prefix string) error {
	_, err := cli.Delete(ctx, topology.Prefix(prefix), clientv3.WithPrefix())
	return err
}

// Applied reports whether the server at addr answers the probes as with
// the sites defined: every probe exactly its site0 address. Without sites
// a probe gets all its healthy addresses, or with hold-one a pick among
// them; that all 32 picks fall on site0's is as good as impossible. The
// probes carry the client's address as EDNS Client Subnet, so that they
// ask as the client whatever their source address.
func (s *SiteSet) Applied(c *dns.Client, addr string) (bool, error) {
	for _, pr := range s.Probes {
		m := new(dns.Msg)
		m.SetQuestion(pr.Name, dns.TypeA)
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
			SourceNetmask: 32, Address: s.Client.AsSlice()})
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			return false, err
		}
		if r.Rcode != dns.RcodeSuccess {
			return false, fmt.Errorf("%s: %s", pr.Name, dns.RcodeToString[r.Rcode])
		}
		if len(r.Answer) != 1 {
			return false, nil
		}
		a, ok := r.Answer[0].(*dns.A)
		if !ok {
			return false, nil
		}
		if got, _ := netip.AddrFromSlice(a.A); got.Unmap() != pr.Local {
			return false, nil
		}
	}
	return true, nil
}

// WaitApplied polls the server at addr, from 127.0.0.1 as dnsperf, until
// it answers as with the sites (want true) or without (false).
func (s *SiteSet) WaitApplied(ctx context.Context, addr string, want bool) error {
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	for {
		got, err := s.Applied(c, addr)
		if err == nil && got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("sites not applied=%v at %s: %w (last: %v)", want, addr, ctx.Err(), err)
			}
			return fmt.Errorf("sites not applied=%v at %s: %w", want, addr, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
