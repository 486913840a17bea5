//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/openivs/openivs/internal/hls"
)

// The epoll front: what an evented server could gain over a goroutine per connection, measured before anyone
// builds one into openivs. Each of `loops` goroutines owns a listening socket (SO_REUSEPORT), an epoll set and an
// eventfd. Sockets are registered once, edge-triggered; a socket is read only after epoll reported it, and a read
// shorter than the space offered counts as draining it (nginx's rule), so no read ever finds nothing. A request
// that can be answered is answered inline with one writev; a blocking playlist reload or a part not yet published
// is parked on the loop's waiting list, with no goroutine, and retried when the muxer publishes (a goroutine per
// loop turns the muxer's Changed channel into an eventfd write) or dropped with a 404 at its timeout. Partial writes
// wait for EPOLLOUT.

// gone is a cancelled context: WaitPart with it answers at once (the part, or ctx.Err when it must wait).
var gone = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

type econn struct {
	fd       int
	rbuf     []byte
	rn       int  // bytes in rbuf
	readable bool // epoll reported data that is not read yet (the connection was busy)

	// the response being written
	head  []byte
	body  []byte
	woff  int // bytes of head+body written
	wbusy bool

	// the request being answered, and whether it is parked (until deadline)
	r        route
	parked   bool
	deadline int64
}

type eloop struct {
	m       *hls.Muxer
	ep, lfd int
	efd     int
	conns   map[int]*econn
	waiting []*econn
	events  []unix.EpollEvent

	blocked atomic.Int64 // writes that found the socket full (the response then waits for EPOLLOUT)
}

// epollFront is the epoll front's loops, listening on one address.
type epollFront struct {
	addr  string // host:port, the port chosen when addr asked for 0
	loops []*eloop
}

func serveEpoll(ctx context.Context, m *hls.Muxer, addr string, loops int) error {
	f, err := listenEpoll(m, addr, loops)
	if err != nil {
		return err
	}
	return f.serve(ctx)
}

// listenEpoll opens the loops' listening sockets (the first one picks the port when addr's is 0) and epoll sets.
func listenEpoll(m *hls.Muxer, addr string, loops int) (*epollFront, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	sa := &unix.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	f := &epollFront{}
	for range loops {
		l, err := newELoop(m, sa)
		if err != nil {
			f.close()
			return nil, err
		}
		f.loops = append(f.loops, l)
		if sa.Port == 0 {
			got, err := unix.Getsockname(l.lfd)
			if err != nil {
				f.close()
				return nil, fmt.Errorf("getsockname: %w", err)
			}
			sa.Port = got.(*unix.SockaddrInet4).Port
		}
	}
	f.addr = net.JoinHostPort(ta.IP.String(), strconv.Itoa(sa.Port))
	return f, nil
}

// serve runs the loops until ctx ends, then closes every socket.
func (f *epollFront) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx) // a loop that fails stops the others
	defer cancel()
	errc := make(chan error, len(f.loops))
	var notifiers sync.WaitGroup
	for _, l := range f.loops {
		notifiers.Go(func() { l.notify(ctx) })
		go func() { errc <- l.run(ctx) }()
	}
	var first error
	for range f.loops {
		if err := <-errc; err != nil {
			cancel()
			if first == nil {
				first = err
			}
		}
	}
	notifiers.Wait()
	f.close()
	return first
}

// blocked counts the writes that found a socket full.
func (f *epollFront) blocked() (n int64) {
	for _, l := range f.loops {
		n += l.blocked.Load()
	}
	return n
}

func (f *epollFront) close() {
	for _, l := range f.loops {
		for _, c := range l.conns {
			unix.Close(c.fd)
		}
		clear(l.conns)
		for _, fd := range []int{l.lfd, l.efd, l.ep} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		l.lfd, l.efd, l.ep = -1, -1, -1
	}
}

func newELoop(m *hls.Muxer, sa *unix.SockaddrInet4) (*eloop, error) {
	l := &eloop{m: m, ep: -1, lfd: -1, efd: -1, conns: map[int]*econn{}, events: make([]unix.EpollEvent, 256)}
	fail := func(what string, err error) (*eloop, error) {
		for _, fd := range []int{l.lfd, l.efd, l.ep} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var err error
	if l.lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return fail("socket", err)
	}
	for _, o := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
		if err := unix.SetsockoptInt(l.lfd, unix.SOL_SOCKET, o, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(l.lfd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(l.lfd, 4096); err != nil {
		return fail("listen", err)
	}
	if l.ep, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail("epoll_create1", err)
	}
	if l.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fail("eventfd", err)
	}
	for _, fd := range []int{l.lfd, l.efd} {
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fail("epoll_ctl", err)
		}
	}
	return l, nil
}

// notify writes the loop's eventfd after every publication (after taking the next channel, so none is missed).
func (l *eloop) notify(ctx context.Context) {
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	ch := l.m.Changed()
	for {
		select {
		case <-ctx.Done():
			unix.Write(l.efd, one) // the loop sees ctx at once (serve closes efd only after this returns)
			return
		case <-ch:
		}
		ch = l.m.Changed()
		unix.Write(l.efd, one)
	}
}

func (l *eloop) run(ctx context.Context) error {
	var eb [8]byte
	for ctx.Err() == nil {
		n, err := unix.EpollWait(l.ep, l.events, 1000)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("epoll_wait: %w", err)
		}
		woke := false
		for _, ev := range l.events[:n] {
			switch fd := int(ev.Fd); fd {
			case l.lfd:
				l.accept()
			case l.efd:
				unix.Read(l.efd, eb[:])
				woke = true
			default:
				c := l.conns[fd]
				if c == nil {
					continue
				}
				if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
					l.close(c)
					continue
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
					c.readable = true
				}
				if ev.Events&unix.EPOLLOUT != 0 && c.wbusy && !l.flush(c) {
					continue
				}
				if c.readable || c.rn > 0 {
					l.serve(c)
				}
			}
		}
		if woke || len(l.waiting) > 0 {
			l.retry(woke)
		}
	}
	return nil
}

func (l *eloop) accept() {
	for {
		fd, _, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &econn{fd: fd, rbuf: make([]byte, 4096)}
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}); err != nil {
			unix.Close(fd)
			continue
		}
		l.conns[fd] = c
	}
}

func (l *eloop) close(c *econn) {
	if c.parked {
		for i, w := range l.waiting {
			if w == c {
				l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
				break
			}
		}
	}
	delete(l.conns, c.fd)
	unix.Close(c.fd)
	c.fd = -1
}

// serve reads what epoll reported and answers the requests it completes, while the connection is not busy.
func (l *eloop) serve(c *econn) {
	for c.fd >= 0 && !c.wbusy && !c.parked {
		target, used, ok := cutRequest(c.rbuf[:c.rn])
		if used == 0 {
			if !c.readable {
				return
			}
			if c.rn == len(c.rbuf) { // a head over 4 KiB: not from hlsload
				l.close(c)
				return
			}
			n, err := unix.Read(c.fd, c.rbuf[c.rn:])
			if errors.Is(err, unix.EAGAIN) {
				c.readable = false
				return
			}
			if n <= 0 {
				l.close(c)
				return
			}
			if c.rn+n < len(c.rbuf) { // a short read drained the socket
				c.readable = false
			}
			c.rn += n
			continue
		}
		copy(c.rbuf, c.rbuf[used:c.rn])
		c.rn -= used
		if !ok {
			l.close(c)
			return
		}
		l.request(c, target)
	}
}

// cutRequest finds the first request head in b: its target and the bytes it used (0: the head is not complete).
// ok is false for anything but "GET <target> HTTP/1.x" (the header fields are not looked at).
func cutRequest(b []byte) (target string, used int, ok bool) {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return "", 0, false
	}
	line, _, _ := bytes.Cut(b[:i], []byte("\r\n"))
	f := bytes.Split(line, []byte(" "))
	if len(f) != 3 || string(f[0]) != "GET" || len(f[1]) == 0 || f[1][0] != '/' || !bytes.HasPrefix(f[2], []byte("HTTP/1.")) {
		return "", i + 4, false
	}
	return string(f[1]), i + 4, true
}

// request answers target now, or parks it.
func (l *eloop) request(c *econn, target string) {
	path, query, _ := strings.Cut(target, "?")
	c.r = parseRoute(path, query)
	switch {
	case c.r.kind == routeMultivariant:
		l.reply(c, multivariant, m3u8)
	case c.r.kind == routePlaylist && !c.r.block:
		l.reply(c, l.m.SharedPlaylist(prefix, c.r.skip), m3u8)
	case c.r.kind == routeNone:
		l.reply(c, nil, "")
	case !l.try(c):
		c.parked = true
		c.deadline = time.Now().Add(waitTimeout).UnixNano()
		l.waiting = append(l.waiting, c)
	}
}

// try answers c's blocking request (a playlist reload or a part) if it can be answered now.
func (l *eloop) try(c *econn) bool {
	p, err := l.m.WaitPart(gone, c.r.msn, c.r.part, 0)
	switch {
	case errors.Is(err, context.Canceled):
		return false
	case c.r.kind == routePart && err != nil:
		l.reply(c, nil, "")
	case c.r.kind == routePart:
		l.reply(c, p.Data, mp2t)
	case err == nil || errors.Is(err, hls.ErrGone) || errors.Is(err, hls.ErrClosed):
		l.reply(c, l.m.SharedPlaylist(prefix, c.r.skip), m3u8)
	default:
		l.reply(c, nil, "")
	}
	return true
}

// retry answers the parked requests that can be answered (after a publication) or have timed out.
func (l *eloop) retry(woke bool) {
	now := time.Now().UnixNano()
	kept := l.waiting[:0]
	var done []*econn
	for _, c := range l.waiting {
		c.parked = false
		if woke && l.try(c) {
			done = append(done, c)
			continue
		}
		if now >= c.deadline {
			if c.r.kind == routePart {
				l.reply(c, nil, "")
			} else {
				l.reply(c, l.m.SharedPlaylist(prefix, c.r.skip), m3u8)
			}
			done = append(done, c)
			continue
		}
		c.parked = true
		kept = append(kept, c)
	}
	clear(l.waiting[len(kept):])
	l.waiting = kept
	for _, c := range done {
		if c.fd >= 0 {
			l.serve(c) // a request read while parked
		}
	}
}

// reply starts the response (a 404 for a nil body) and writes what the socket takes.
func (l *eloop) reply(c *econn, body []byte, ctype string) {
	c.head, c.body, c.woff, c.wbusy = appendHead(c.head[:0], body, ctype), body, 0, true
	l.flush(c)
}

// flush writes the rest of c's response; it tells whether the response is done (false: wait for EPOLLOUT, or the
// connection was closed).
func (l *eloop) flush(c *econn) bool {
	for c.wbusy {
		var iov [2][]byte
		n := 0
		if c.woff < len(c.head) {
			iov[n] = c.head[c.woff:]
			n++
		}
		if off := max(c.woff-len(c.head), 0); off < len(c.body) {
			iov[n] = c.body[off:]
			n++
		}
		if n == 0 {
			c.wbusy = false
			break
		}
		w, err := unix.Writev(c.fd, iov[:n])
		if errors.Is(err, unix.EAGAIN) {
			l.blocked.Add(1)
			return false
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hlsceiling: writev:", err)
			l.close(c)
			return false
		}
		c.woff += w
	}
	return true
}
