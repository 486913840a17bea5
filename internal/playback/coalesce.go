package playback

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// One write per response. net/http writes a response's header into the connection's 4 KiB buffer, and a body
// larger than what is left of it goes out in two writes: the buffer topped up with the body's start, then the
// rest. For a part (tens of KB) that is two TCP sends, each waking the viewer, for every part of every viewer.
// A connection accepted through Listener can hold its first write of a response and send it with the next in
// one writev: write asks for that around a body.

// Listener wraps a TCP listener whose connections serve playback over plain HTTP/1.1; serve it with ConnContext
// as the http.Server's ConnContext.
func Listener(ln net.Listener) net.Listener { return coalescingListener{ln} }

// ConnContext makes a connection accepted through Listener known to the playback handler.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if cc, ok := c.(*coalescingConn); ok {
		return context.WithValue(ctx, connKey{}, cc)
	}
	return ctx
}

type connKey struct{}

type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		return &coalescingConn{TCPConn: tc}, nil
	}
	return c, err
}

// coalescingConn is a TCP connection that can hold one write for the next. It embeds *net.TCPConn so that
// net/http still finds CloseWrite and ReadFrom. net/http writes a connection from one goroutine at a time.
type coalescingConn struct {
	*net.TCPConn
	hold bool
	held *[]byte // a copy of the write held, from heldPool
	iov  [2][]byte
	bufs net.Buffers // over iov: a writev without allocating
}

// heldPool holds copies of the writes held: net/http's buffer is at most 4 KiB.
var heldPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func (c *coalescingConn) Write(p []byte) (int, error) {
	if !c.hold {
		return c.TCPConn.Write(p)
	}
	if c.held == nil {
		c.held = heldPool.Get().(*[]byte)
		*c.held = append((*c.held)[:0], p...) // net/http reuses its buffer
		return len(p), nil
	}
	c.hold = false
	held := len(*c.held)
	c.iov = [2][]byte{*c.held, p}
	c.bufs = c.iov[:]
	n, err := c.bufs.WriteTo(c.TCPConn) // one writev
	c.iov = [2][]byte{}
	c.release()
	return int(max(0, n-int64(held))), err
}

// flush ends holding: a write still held is sent alone.
func (c *coalescingConn) flush() error {
	c.hold = false
	if c.held == nil {
		return nil
	}
	_, err := c.TCPConn.Write(*c.held)
	c.release()
	return err
}

func (c *coalescingConn) release() {
	heldPool.Put(c.held)
	c.held = nil
}

// writeBody writes body, the whole of a response whose headers are set, in one send when the connection allows.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte) {
	cc, _ := r.Context().Value(connKey{}).(*coalescingConn)
	if cc == nil || len(body) < 2<<10 { // small: header and body leave together anyway
		w.Write(body)
		return
	}
	cc.hold = true
	defer cc.flush()
	if _, err := w.Write(body); err != nil {
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // what net/http would write after the handler, written while holding
	}
}
