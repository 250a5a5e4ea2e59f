package monitortest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// NetNS is a network namespace joined to the host by a veth pair, with a
// /30 from 198.18.0.0/15 (the benchmarking range, never routed): the host
// end is HostIP, the namespace end PeerIP. Taking the namespace end down
// makes PeerIP stop answering anything, ping included, which loopback
// cannot do. Only traffic to PeerIP leaves lo, and only into the pair.
type NetNS struct {
	t              testing.TB
	ip             string
	name           string
	hostIf, peerIf string
	HostIP, PeerIP netip.Addr
}

// NewNetNS creates the namespace and removes it when the test ends. It
// skips the test, saying why, without root or without iproute2.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test creates a network namespace and a veth pair to make an address stop answering ping (CI runs as root)")
	}
	ip := ""
	for _, p := range []string{"ip", "/usr/sbin/ip", "/sbin/ip"} {
		if path, err := exec.LookPath(p); err == nil {
			ip = path
			break
		}
	}
	if ip == "" {
		t.Skip("needs iproute2's ip command to create a network namespace")
	}
	tag := fmt.Sprintf("%06x", rand.IntN(1<<24))
	third, fourth := byte(rand.IntN(256)), byte(rand.IntN(64)*4)
	n := &NetNS{
		t: t, ip: ip, name: "skydns-t-" + tag, hostIf: "sdt" + tag + "h", peerIf: "sdt" + tag + "n",
		HostIP: netip.AddrFrom4([4]byte{198, 18, third, fourth + 1}),
		PeerIP: netip.AddrFrom4([4]byte{198, 18, third, fourth + 2}),
	}
	t.Cleanup(func() {
		// Deleting the namespace deletes its end of the pair, and with it
		// the host end; the second command is for a half-made setup.
		_ = exec.Command(ip, "netns", "del", n.name).Run()
		_ = exec.Command(ip, "link", "del", n.hostIf).Run()
	})
	n.run("netns", "add", n.name)
	n.run("link", "add", n.hostIf, "type", "veth", "peer", "name", n.peerIf)
	n.run("link", "set", n.peerIf, "netns", n.name)
	n.run("addr", "add", n.HostIP.String()+"/30", "dev", n.hostIf)
	n.run("link", "set", n.hostIf, "up")
	n.run("-n", n.name, "addr", "add", n.PeerIP.String()+"/30", "dev", n.peerIf)
	n.run("-n", n.name, "link", "set", "lo", "up")
	n.PeerUp()
	return n
}

// PeerDown takes the namespace end down: PeerIP stops answering.
func (n *NetNS) PeerDown() { n.run("-n", n.name, "link", "set", n.peerIf, "down") }

// PeerUp brings it back.
func (n *NetNS) PeerUp() { n.run("-n", n.name, "link", "set", n.peerIf, "up") }

func (n *NetNS) run(args ...string) {
	n.t.Helper()
	out, err := exec.Command(n.ip, args...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("monitortest: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
