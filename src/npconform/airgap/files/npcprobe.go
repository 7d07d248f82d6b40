// npcprobe: npconform's probe program. One process runs a whole batch of probes at once,
// each in its own goroutine, and prints one line per probe as it ends:
//
//	NPCR <index> <outcome> <seconds> <detail>
//
// outcome is connected, timeout, refused or error; detail is a few words or "-". After
// the last probe it prints "NPCR-DONE <count>".
//
// Usage: npcprobe [-tcp S] [-udp S] [-resend S] [-dns S] PROBE...
// where PROBE is index,protocol,host,port[,source port[,query]] and protocol is TCP,
// UDP or DNS. Timeouts are seconds and may be fractions.
//
// TCP: a connect, another every -resend seconds while none has ended; an answer with a
// reset is refused, an ICMP unreachable is refused.
// UDP: a datagram every -resend seconds until an answer arrives or -udp seconds pass
// (a lost datagram never reads as blocked); any answer is connected, an ICMP port
// unreachable is refused. The datagrams are sent from the given source port.
// DNS: one query for the A record of the name; connected only with an address in the
// answer.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const payload = "npconform"

type probe struct {
	index    int
	protocol string
	host     string
	port     int
	sport    int
	query    string
}

type result struct {
	outcome string
	detail  string
}

func parse(arg string) (probe, error) {
	f := strings.Split(arg, ",")
	if len(f) < 4 || len(f) > 6 {
		return probe{}, fmt.Errorf("probe %q: want index,protocol,host,port[,sport[,query]]", arg)
	}
	p := probe{protocol: f[1], host: f[2], query: "kubernetes.default.svc.cluster.local"}
	var err error
	if p.index, err = strconv.Atoi(f[0]); err != nil {
		return p, fmt.Errorf("probe %q: index: %v", arg, err)
	}
	if p.port, err = strconv.Atoi(f[3]); err != nil || p.port < 1 || p.port > 65535 {
		return p, fmt.Errorf("probe %q: bad port", arg)
	}
	if len(f) > 4 && f[4] != "" {
		if p.sport, err = strconv.Atoi(f[4]); err != nil || p.sport < 0 || p.sport > 65535 {
			return p, fmt.Errorf("probe %q: bad source port", arg)
		}
	}
	if len(f) > 5 && f[5] != "" {
		p.query = f[5]
	}
	switch p.protocol {
	case "TCP", "UDP", "DNS":
	default:
		return p, fmt.Errorf("probe %q: protocol %s cannot be probed", arg, p.protocol)
	}
	return p, nil
}

func words(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func unreachable(err error) bool {
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// tcp connects, and while no connect has ended it starts another every resend (each a
// new SYN from a new port): the kernel would resend a lost SYN only after a second, longer
// than the wait, so one lost SYN never reads as blocked. The first connect that ends
// with an answer (connected, refused, unreachable) decides; timeout only if none did.
func tcp(p probe, addr string, timeout, resend time.Duration) result {
	end := time.Now().Add(timeout)
	done := make(chan result, int(timeout/resend)+2)
	dial := func() {
		c, err := net.DialTimeout("tcp", addr, time.Until(end))
		switch {
		case err == nil:
			c.Close()
			done <- result{"connected", ""}
		case errors.Is(err, syscall.ECONNREFUSED):
			done <- result{"refused", "connection refused (TCP reset)"}
		case unreachable(err):
			done <- result{"refused", "unreachable (ICMP): " + words(err)}
		case isTimeout(err):
			done <- result{"timeout", ""}
		default:
			done <- result{"error", "connect: " + words(err)}
		}
	}
	started, ended := 1, 0
	go dial()
	tick := time.NewTicker(resend)
	defer tick.Stop()
	last := result{"timeout", ""}
	for ended < started {
		select {
		case r := <-done:
			ended++
			if r.outcome != "timeout" {
				return r
			}
			last = r
		case <-tick.C:
			if time.Until(end) > resend/2 {
				started++
				go dial()
			}
		}
	}
	return last
}

// exchange sends msg every resend until a datagram arrives or wait passes, and returns
// what arrived.
func exchange(p probe, addr string, msg []byte, wait, resend time.Duration) ([]byte, result) {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, result{"error", "address: " + words(err)}
	}
	var laddr *net.UDPAddr
	if p.sport > 0 {
		laddr = &net.UDPAddr{Port: p.sport}
	}
	c, err := net.DialUDP("udp", laddr, raddr)
	if err != nil {
		return nil, result{"error", "socket: " + words(err)}
	}
	defer c.Close()
	end := time.Now().Add(wait)
	if err := c.SetReadDeadline(end); err != nil {
		return nil, result{"error", words(err)}
	}
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		t := time.NewTicker(resend)
		defer t.Stop()
		for {
			if _, err := c.Write(msg); err != nil {
				sent <- err
				_ = c.SetReadDeadline(time.Now()) // the answer is the send's error
				return
			}
			select {
			case <-stop:
				return
			case <-t.C:
				if time.Now().After(end) {
					return
				}
			}
		}
	}()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	close(stop)
	if err == nil {
		return buf[:n], result{"connected", ""}
	}
	select {
	case werr := <-sent: // an ICMP error may surface on a send as well as on a receive
		err = werr
		if !errors.Is(err, syscall.ECONNREFUSED) && !unreachable(err) {
			return nil, result{"error", "send: " + words(err)}
		}
	default:
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, result{"refused", "port unreachable (ICMP)"}
	case unreachable(err):
		return nil, result{"refused", "unreachable (ICMP): " + words(err)}
	case isTimeout(err):
		return nil, result{"timeout", ""}
	}
	return nil, result{"error", "receive: " + words(err)}
}

func udp(p probe, addr string, wait, resend time.Duration) result {
	answer, r := exchange(p, addr, []byte(payload), wait, resend)
	if r.outcome == "connected" && len(answer) == 0 {
		return result{"error", "empty answer"}
	}
	return r
}

// dnsQuery is a query for the A record of name with the recursion-desired bit.
func dnsQuery(id uint16, name string) ([]byte, error) {
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if len(label) == 0 || len(label) > 63 {
			return nil, fmt.Errorf("bad name %q", name)
		}
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	return append(q, 0, 0, 1, 0, 1), nil
}

// skipName returns the offset after a (possibly compressed) name at off.
func skipName(m []byte, off int) (int, error) {
	for off < len(m) {
		l := int(m[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			return off + 2, nil
		default:
			off += 1 + l
		}
	}
	return 0, errors.New("truncated name")
}

var rcodes = map[int]string{1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}

// addresses counts the A and AAAA records in the answer section of a reply to id.
func addresses(m []byte, id uint16) (int, string, error) {
	if len(m) < 12 || binary.BigEndian.Uint16(m) != id {
		return 0, "", errors.New("not an answer to the query")
	}
	rcode := int(m[3] & 0x0F)
	status := "NOERROR"
	if rcode != 0 {
		status = rcodes[rcode]
		if status == "" {
			status = "RCODE" + strconv.Itoa(rcode)
		}
	}
	qd, an := int(binary.BigEndian.Uint16(m[4:])), int(binary.BigEndian.Uint16(m[6:]))
	off := 12
	var err error
	for range qd {
		if off, err = skipName(m, off); err != nil {
			return 0, status, err
		}
		off += 4
	}
	n := 0
	for range an {
		if off, err = skipName(m, off); err != nil || off+10 > len(m) {
			return n, status, errors.New("truncated answer")
		}
		typ := binary.BigEndian.Uint16(m[off:])
		rdlen := int(binary.BigEndian.Uint16(m[off+8:]))
		if typ == 1 || typ == 28 {
			n++
		}
		off += 10 + rdlen
	}
	return n, status, nil
}

func dns(p probe, addr string, wait time.Duration) result {
	id := uint16(rand.UintN(65536))
	q, err := dnsQuery(id, p.query)
	if err != nil {
		return result{"error", err.Error()}
	}
	// One query: a resend would only repeat it (dig +tries=1).
	answer, r := exchange(p, addr, q, wait, wait+time.Second)
	if r.outcome != "connected" {
		return r
	}
	n, status, err := addresses(answer, id)
	if err != nil {
		return result{"error", "DNS answer not understood: " + err.Error()}
	}
	if status != "NOERROR" || n == 0 {
		return result{"error", fmt.Sprintf("DNS answered %s without an address for %s", status, p.query)}
	}
	return result{"connected", ""}
}

// lateAttempts: how often a probe is tried when it timed out late.
const lateAttempts = 3

// attempt runs a probe. A timeout is only a reading when the program woke up at its
// deadline: a process starved of CPU (a busy node) wakes late, and by then Go reports
// the expired deadline even if the answer had arrived. A timeout that ends later than
// its wait plus a slack is tried again; when every attempt is late, the probe is an
// error, never a verdict.
func attempt(p probe, addr string, waits map[string]time.Duration) result {
	var wait time.Duration
	run := func() result {
		switch p.protocol {
		case "TCP":
			wait = waits["tcp"]
			return tcp(p, addr, wait, waits["resend"])
		case "UDP":
			wait = waits["udp"]
			return udp(p, addr, wait, waits["resend"])
		}
		wait = waits["dns"]
		return dns(p, addr, wait)
	}
	var late []string
	for range lateAttempts {
		t0 := time.Now()
		r := run()
		over := time.Since(t0) - wait
		if r.outcome != "timeout" || over <= 150*time.Millisecond+wait/4 {
			return r
		}
		late = append(late, fmt.Sprintf("%.2fs", over.Seconds()))
	}
	return result{"error", fmt.Sprintf("every attempt timed out late (%s past its wait): "+
		"the probe process was starved of CPU, so no reading", strings.Join(late, ", "))}
}

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 600 {
		return 0, fmt.Errorf("bad seconds %q", s)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func main() {
	tcpS := flag.String("tcp", "1", "seconds a TCP connect may take")
	udpS := flag.String("udp", "2", "seconds a UDP probe waits for an answer")
	resendS := flag.String("resend", "0.3", "seconds between a UDP probe's datagrams")
	dnsS := flag.String("dns", "1", "seconds a DNS query waits for an answer")
	flag.Parse()
	waits := map[string]time.Duration{}
	for name, s := range map[string]string{"tcp": *tcpS, "udp": *udpS, "resend": *resendS, "dns": *dnsS} {
		d, err := seconds(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "npcprobe: -%s: %v\n", name, err)
			os.Exit(2)
		}
		waits[name] = d
	}
	probes := make([]probe, 0, flag.NArg())
	for _, a := range flag.Args() {
		p, err := parse(a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "npcprobe: %v\n", err)
			os.Exit(2)
		}
		probes = append(probes, p)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := os.Stdout
	for _, p := range probes {
		wg.Add(1)
		go func(p probe) {
			defer wg.Done()
			addr := net.JoinHostPort(p.host, strconv.Itoa(p.port))
			t0 := time.Now()
			r := attempt(p, addr, waits)
			detail := strings.Join(strings.Fields(r.detail), " ")
			if detail == "" {
				detail = "-"
			}
			mu.Lock()
			fmt.Fprintf(out, "NPCR %d %s %.3f %s\n", p.index, r.outcome, time.Since(t0).Seconds(), detail)
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	fmt.Fprintf(out, "NPCR-DONE %d\n", len(probes))
}
