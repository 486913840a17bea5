//go:build linux

package main

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Why an event loop. The viewers share the machine with the server they measure (bench/README.md: two cores), so
// every microsecond the tool spends per request is taken from the server. With a goroutine and a net.Conn per
// viewer, each request cost a read(2) that found nothing (Go reads before it waits), the runtime's netpoller, a
// park and a wake-up, and a deadline timer. Here one goroutine per loop (one loop by default) waits in epoll_wait
// for all its viewers' sockets (registered once, edge-triggered, as Go's own netpoller does) and reads a socket only
// when it has data: a request costs a write(2), a read(2) of the response head and, for media, one
// recv(MSG_TRUNC) that drops the body without copying it.

// loop drives its viewers' connections and timers.
type loop struct {
	r       *runner
	ep      int
	sa      unix.Sockaddr
	family  int
	host    string
	timeout int64 // per request, ns

	viewers []*viewer
	stopped int       // viewers done
	byFD    []*viewer // the viewer whose connection has this descriptor
	closing []int     // descriptors to close after the current batch of events (their numbers must not be reused within it)
	timers  timerHeap
	events  []unix.EpollEvent
}

// headRead is how much a read asks for while a media response's head is expected: a little more than a head.
const headRead = 1024

// truncBuf is the buffer handed to recv(MSG_TRUNC): the kernel does not write to it.
var truncBuf = make([]byte, 1<<20)

// viewer connection states
const (
	connIdle = iota
	connConnecting
	connWriting
	connReading
)

func newLoop(r *runner, addr, host string, timeout time.Duration) (*loop, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &loop{r: r, host: host, timeout: timeout.Nanoseconds(), events: make([]unix.EpollEvent, 512)}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		l.sa, l.family = sa, unix.AF_INET
	} else {
		sa := &unix.SockaddrInet6{Port: ta.Port}
		copy(sa.Addr[:], ta.IP.To16())
		l.sa, l.family = sa, unix.AF_INET6
	}
	if l.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return l, nil
}

// add makes v one of the loop's viewers, starting at start.
func (l *loop) add(v *viewer, start time.Time) {
	v.l, v.fd = l, -1
	v.rbuf = make([]byte, 16<<10)
	l.viewers = append(l.viewers, v)
	v.after(start.Sub(l.r.origin).Nanoseconds(), stepBegin)
}

// run serves events and timers until stop is set or until every viewer has finished; then it closes everything.
func (l *loop) run(stop *atomic.Bool) {
	defer l.close()
	nextSweep := int64(0)
	for !stop.Load() {
		now := l.r.now()
		for len(l.timers) > 0 && l.timers[0].at <= now {
			t := heap.Pop(&l.timers).(timer)
			if t.gen == t.v.timerGen {
				t.v.timerGen++
				t.v.onTimer()
			}
		}
		if now >= nextSweep { // request deadlines
			for _, v := range l.viewers {
				if v.state != connIdle && now > v.deadline {
					v.finish(os.ErrDeadlineExceeded)
				}
			}
			nextSweep = now + 100e6
		}
		l.flushClosing()
		if l.finished() {
			return
		}
		wait := int64(50e6)
		if len(l.timers) > 0 {
			wait = min(wait, l.timers[0].at-l.r.now())
		}
		ms := max(0, int((wait+999_999)/1e6))
		n, err := unix.EpollWait(l.ep, l.events, ms)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			fmt.Fprintf(os.Stderr, "hlsload: epoll_wait: %v\n", err)
			return
		}
		for _, ev := range l.events[:n] {
			if fd := int(ev.Fd); fd < len(l.byFD) {
				if v := l.byFD[fd]; v != nil {
					v.onEvent(ev.Events)
				}
			}
		}
		l.flushClosing()
	}
}

// finished: no viewer has anything left to do.
func (l *loop) finished() bool { return l.stopped == len(l.viewers) }

func (l *loop) flushClosing() {
	for _, fd := range l.closing {
		unix.Close(fd)
	}
	l.closing = l.closing[:0]
}

func (l *loop) close() {
	for _, v := range l.viewers {
		v.closeConn()
	}
	l.flushClosing()
	unix.Close(l.ep)
}

// dial opens v's connection (non-blocking; the request is written once it is connected).
func (l *loop) dial(v *viewer) error {
	fd, err := unix.Socket(l.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	err = unix.Connect(fd, l.sa)
	if err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, make([]*viewer, len(l.byFD)+1024)...)
	}
	l.byFD[fd] = v
	v.fd, v.dials = fd, v.dials+1
	v.state = connConnecting
	return nil
}

// send writes the request in v.wbuf on v's connection (dialling it first if it has none) and reads its response
// into v.resp (the body kept when keep is set).
func (v *viewer) send(keep bool) {
	v.wbuf = append(v.wbuf, " HTTP/1.1\r\nHost: "...)
	v.wbuf = append(v.wbuf, v.l.host...)
	v.wbuf = append(v.wbuf, "\r\nUser-Agent: hlsload\r\nAccept: */*\r\n\r\n"...)
	v.woff = 0
	v.resp.reset(keep, v.body)
	v.deadline = v.l.r.now() + v.l.timeout
	if v.fd < 0 {
		if err := v.l.dial(v); err != nil {
			v.state = connWriting // so that finish reports it
			v.finish(err)
		}
		return // written when the connection is up
	}
	v.state = connWriting
	v.write()
}

func (v *viewer) onEvent(ev uint32) {
	switch v.state {
	case connConnecting:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		soerr, err := unix.GetsockoptInt(v.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			v.finish(err)
			return
		}
		v.state = connWriting
		v.write()
	case connWriting:
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			v.write()
		}
	case connReading:
		v.read()
	case connIdle:
		// Nothing is expected between requests: the server closed the connection (or sent what it should not).
		// Drop it; the next request dials again.
		if n, err := unix.Read(v.fd, v.rbuf); err != unix.EAGAIN || n > 0 {
			v.closeConn()
		}
	}
}

func (v *viewer) write() {
	for v.woff < len(v.wbuf) {
		n, err := unix.Write(v.fd, v.wbuf[v.woff:])
		if err == unix.EAGAIN {
			return // the next EPOLLOUT edge
		}
		if err != nil {
			v.finish(err)
			return
		}
		v.woff += n
	}
	v.state = connReading
	v.rr, v.rw = 0, 0
	// The response is read when epoll says it has come: reading now would mostly find nothing.
}

func (v *viewer) read() {
	for {
		if skip := v.resp.skippable(); skip > 0 && v.rr == v.rw {
			// body bytes nobody looks at: drop them in the socket without copying
			n, _, err := unix.Recvfrom(v.fd, truncBuf[:min(skip, int64(len(truncBuf)))], unix.MSG_TRUNC|unix.MSG_DONTWAIT)
			if !v.readOK(n, err) {
				return
			}
			v.resp.skipped(int64(n))
			if v.resp.done() {
				v.complete()
				return
			}
			if int64(n) < skip {
				return // drained: wait for the next edge
			}
			continue
		}
		if v.rr > 0 { // keep what is unparsed at the front
			v.rw = copy(v.rbuf, v.rbuf[v.rr:v.rw])
			v.rr = 0
		}
		// Reading media, read the head and little more: the body after it is dropped in the socket, uncopied.
		end := len(v.rbuf)
		if !v.resp.keep {
			end = min(end, v.rw+headRead)
		}
		space := end - v.rw
		n, err := unix.Read(v.fd, v.rbuf[v.rw:end])
		if !v.readOK(n, err) {
			return
		}
		v.rw += n
		used, err := v.resp.feed(v.rbuf[v.rr:v.rw])
		v.rr += used
		if err != nil {
			v.finish(err)
			return
		}
		if v.resp.done() {
			if v.rr != v.rw {
				v.finish(errors.New("data after the response"))
				return
			}
			v.complete()
			return
		}
		if n < space {
			return // drained: wait for the next edge
		}
	}
}

// readOK tells whether a read brought n bytes to go on with; otherwise it has dealt with the result: nothing yet
// (wait for the next edge), an error, or the connection's end (which ends a response running to it, else fails).
func (v *viewer) readOK(n int, err error) bool {
	switch {
	case err == unix.EAGAIN:
	case err != nil:
		v.finish(err)
	case n == 0:
		if err := v.resp.eof(); err != nil {
			v.finish(err)
		} else {
			v.complete()
		}
	default:
		return true
	}
	return false
}

// complete ends the request with its response.
func (v *viewer) complete() {
	v.state = connIdle
	if v.resp.closeAfter {
		v.closeConn()
	}
	v.body = v.resp.body
	var err error
	if s := v.resp.status; s < 200 || s > 299 {
		err = &httpError{s}
	}
	v.onResponse(v.resp.n, err)
}

// finish ends the request with a transport error (the connection is closed; the next request dials again).
func (v *viewer) finish(err error) {
	if v.state == connIdle {
		return
	}
	v.state = connIdle
	v.closeConn()
	v.body = v.resp.body
	v.onResponse(v.resp.n, err)
}

func (v *viewer) closeConn() {
	if v.fd < 0 {
		return
	}
	v.l.byFD[v.fd] = nil
	v.l.closing = append(v.l.closing, v.fd)
	v.fd = -1
	v.state = connIdle
}

// after runs v.onTimer with step at the loop time at (ns since the origin), replacing any timer v had.
func (v *viewer) after(at int64, step int) {
	v.timerGen++
	v.timerStep = step
	heap.Push(&v.l.timers, timer{at: at, v: v, gen: v.timerGen})
}

type timer struct {
	at  int64
	v   *viewer
	gen uint32
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
