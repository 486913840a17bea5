// Package httpfront is a lean HTTP/1.1 front for the few requests a server answers by the ten thousand a second
// (LL-HLS playback: blocking playlist reloads and their parts), in front of a net/http Server that keeps answering
// everything else on the same listener.
//
// Why it exists. Each LL-HLS viewer makes about 8 requests a second, each a few microseconds of work for the
// playback code, and on the 2-core machine of bench/README.md net/http's own per-request machinery was what stopped
// 5,000 viewers: a background-read goroutine and an extra read(2) per request, the response's buffered writer and
// header copy. bench/hlsceiling measured it (2026-11-22, quiet machine, openivs's own muxer behind a front doing
// nothing else, 5,000 viewers of bench/hlsload on the same cores): net/http with a bare handler delivered 1.5 % of
// the parts within 1 s (26,781 requests/s, 113 % of a core); a minimal keep-alive loop on raw TCP with one writev
// per response, 100 % (40,371 requests/s, 96 % of a core).
//
// What it does. Serve accepts the listener's connections itself and reads each with one goroutine and one
// bufio.Reader. Before each request it peeks at the request line; a request Server.Fast accepts (on HTTP/1.0 or
// 1.1, origin-form target) is parsed (request.go: the plain common case from the buffer in one pass, anything else
// by the standard library's http.ReadRequest) and served in the connection's goroutine: the plainest ones (GET
// and HEAD on HTTP/1.1, read by the one-pass parser) by Server.Direct if it takes them, without an http.Request or
// header maps (direct.go), the others by Server.Handler, through a small http.ResponseWriter that sends the
// response's head and body with one writev when the body is written at once, and implements http.Flusher (chunked
// transfer once a response is flushed before it ends). It keeps net/http's HTTP/1.x semantics: Content-Length from the handler or computed for short
// buffered bodies, chunked or close-delimited bodies otherwise, HEAD, 204 and 304 without a body, Content-Type
// sniffing, a Date header, keep-alive as HTTP/1.1 and 1.0 want it and Connection: close, Expect: 100-continue,
// request bodies drained (up to 256 KiB) or the connection closed, the Server's ReadHeaderTimeout, ReadTimeout,
// IdleTimeout and MaxHeaderBytes, 400 and 431 answers to bad requests, a panicking handler logged and its
// connection closed. Any other request, the first on a connection or a later one, hands the connection over:
// the bytes read so far and the rest of the connection go to Server.Fallback (a net/http Server, which then keeps
// the connection), so the API, health checks, an HTTP/2 preface or anything unusual get net/http's full behaviour.
//
// What it does not do. No TLS (serve TLS with net/http: HTTP/2 is better there), no Hijack, no trailers, no 1xx
// responses but 100 Continue (WriteHeader with 1xx is ignored), no ResponseController deadlines. A request's context
// is its connection's: cancelled when the connection ends or the server shuts down, not when the handler returns,
// and, with no background read, not when the client goes away while the handler waits (it sees that at its next
// write). Header changes after WriteHeader still reach the response while nothing has been sent (net/http ignores
// them; the documented contract is not to make them).
package httpfront

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

const (
	readBufSize = 4 << 10 // a connection's read buffer: a longer request line is handed to Fallback
	// maxDrain is how much of a request body nobody read is read and dropped to keep the connection (net/http's
	// maxPostHandlerReadBytes).
	maxDrain = 256 << 10
)

// Server serves HTTP/1.x on a listener: the requests Fast accepts with Handler, every other connection, from its
// first request Fast does not accept, with Fallback. Set the fields, then call Serve once.
type Server struct {
	// Fast tells whether the front serves a request itself, from its request line: the method and the target's
	// path as sent (escaped, without the query). It must accept only requests Handler answers as Fallback's handler
	// would.
	Fast func(method, path string) bool
	// Handler serves the requests Fast accepts.
	Handler http.Handler
	// Direct, when set, serves the plainest of the requests Fast accepts without making an http.Request (see
	// direct.go): GET and HEAD on HTTP/1.1, with a Host, a head the one-pass parser read. It answers with
	// Reply.Send, or with the ResponseWriter of Reply.Std, or it returns false having done neither, and Handler
	// serves the request. It must answer as Handler would.
	Direct func(w *Reply, r *Request) bool
	// Fallback serves the rest, and gives its settings to the front: ReadHeaderTimeout, ReadTimeout, IdleTimeout,
	// MaxHeaderBytes and BaseContext. Serve runs it; do not Serve it yourself.
	Fallback *http.Server
	Log      *slog.Logger // nil: slog.Default()

	mu       sync.Mutex
	closing  atomic.Bool
	ln       net.Listener
	hand     *handoffListener
	ctx      context.Context // every request's, cancelled by Shutdown and Close
	cancel   context.CancelFunc
	conns    map[*conn]struct{}
	drained  chan struct{} // closed when closing and no connection is left
	isClosed bool          // drained is closed

	date atomic.Pointer[dateValue]
}

// Serve accepts connections on ln until Shutdown or Close, and serves the handed-over ones with Fallback. It
// returns http.ErrServerClosed after Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	if s.ln != nil {
		s.mu.Unlock()
		return errors.New("httpfront: Serve called twice")
	}
	base := context.Background()
	if s.Fallback.BaseContext != nil {
		if base = s.Fallback.BaseContext(ln); base == nil {
			panic("httpfront: BaseContext returned a nil context")
		}
	}
	s.ln, s.hand = ln, newHandoffListener(ln.Addr())
	s.ctx, s.cancel = context.WithCancel(base)
	s.conns = map[*conn]struct{}{}
	s.mu.Unlock()

	fallback := make(chan error, 1)
	go func() { fallback <- s.Fallback.Serve(s.hand) }()
	err := s.accept(ln)
	s.hand.Close() // Fallback keeps the connections it has
	ferr := <-fallback
	if s.closing.Load() {
		return http.ErrServerClosed
	}
	if ferr != nil && !errors.Is(ferr, http.ErrServerClosed) && !errors.Is(ferr, net.ErrClosed) {
		err = errors.Join(err, fmt.Errorf("httpfront: fallback: %w", ferr))
	}
	return err
}

func (s *Server) accept(ln net.Listener) error {
	var delay time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("httpfront: accept: %w", err)
			}
			// out of file descriptors and the like, as net/http does: wait, and try again
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log().Warn("httpfront: accept failed; trying again", "err", err, "in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
			}
			continue
		}
		delay = 0
		s.start(rwc)
	}
}

func (s *Server) start(rwc net.Conn) {
	c := newConn(s, rwc)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		rwc.Close()
		c.cancel()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
}

// forget drops a connection that ended or went to Fallback.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.checkDrained()
	s.mu.Unlock()
}

// checkDrained closes drained once closing and no connection is left; s.mu is held.
func (s *Server) checkDrained() {
	if s.closing.Load() && len(s.conns) == 0 && !s.isClosed {
		s.isClosed = true
		close(s.drained)
	}
}

// stop begins closing: no more connections, no more requests, the listener closed; it returns what Shutdown and
// Close act on.
func (s *Server) stop() (conns []*conn, drained chan struct{}, err error) {
	s.mu.Lock()
	s.closing.Store(true)
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.checkDrained()
	if s.cancel != nil {
		s.cancel() // blocked handlers return
	}
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("httpfront: close listener: %w", cerr)
		}
	}
	return conns, s.drained, err
}

// Shutdown stops accepting, cancels the requests' contexts, closes idle connections, and waits for the others to
// end (after their current response) until ctx is done; it shuts Fallback down alongside.
func (s *Server) Shutdown(ctx context.Context) error {
	conns, drained, err := s.stop()
	for _, c := range conns {
		if c.state.Load() == stateIdle {
			c.rwc.SetReadDeadline(aLongTimeAgo) // its goroutine wakes, sees closing, and closes it
		}
	}
	fallback := make(chan error, 1)
	go func() { fallback <- s.Fallback.Shutdown(ctx) }()
	select {
	case <-drained:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	if ferr := <-fallback; ferr != nil && !errors.Is(ferr, ctx.Err()) {
		err = errors.Join(err, fmt.Errorf("httpfront: fallback shutdown: %w", ferr))
	}
	return err
}

// Close stops accepting and closes every connection now, Fallback's too.
func (s *Server) Close() error {
	conns, _, err := s.stop()
	for _, c := range conns {
		c.rwc.Close()
	}
	if ferr := s.Fallback.Close(); ferr != nil {
		err = errors.Join(err, fmt.Errorf("httpfront: fallback close: %w", ferr))
	}
	return err
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) idleTimeout() time.Duration {
	if s.Fallback.IdleTimeout != 0 {
		return s.Fallback.IdleTimeout
	}
	return s.Fallback.ReadTimeout
}

func (s *Server) headerTimeout() time.Duration {
	if s.Fallback.ReadHeaderTimeout != 0 {
		return s.Fallback.ReadHeaderTimeout
	}
	return s.Fallback.ReadTimeout
}

// headerLimit is how much a request may take before its body: MaxHeaderBytes and room for bufio, as net/http.
func (s *Server) headerLimit() int64 {
	n := s.Fallback.MaxHeaderBytes
	if n <= 0 {
		n = http.DefaultMaxHeaderBytes
	}
	return int64(n) + 4096
}

type dateValue struct {
	sec int64
	b   []byte
}

// appendDate appends the Date header's value for now, formatted once a second.
func (s *Server) appendDate(b []byte, now time.Time) []byte {
	sec := now.Unix()
	d := s.date.Load()
	if d == nil || d.sec != sec {
		d = &dateValue{sec: sec, b: now.UTC().AppendFormat(nil, http.TimeFormat)}
		s.date.Store(d)
	}
	return append(b, d.b...)
}

var aLongTimeAgo = time.Unix(1, 0)

// Connection states, as far as Shutdown needs them.
const (
	stateIdle   = iota // waiting for a request's first byte
	stateActive        // reading or serving a request
)

// conn is one connection the front serves, in its own goroutine.
type conn struct {
	s        *Server
	rwc      net.Conn
	remote   string
	lr       limitReader // under br: MaxHeaderBytes for a request's head
	br       *bufio.Reader
	ctx      context.Context
	cancel   context.CancelFunc
	state    atomic.Int32
	deadline time.Time // the read deadline set last
	handed   bool      // the connection went to Fallback
	linger   bool      // the client may still be sending: lingerClose
	res      response  // reused from one request to the next
	head     reqHead   // the request head parseRequest read
	dreq     Request   // a direct request and its reply, reused too
	drep     Reply
	value    any           // Request.SetConnValue's
	base     *http.Request // what every request of the connection starts from: its context and remote address
}

func newConn(s *Server, rwc net.Conn) *conn {
	c := &conn{s: s, rwc: rwc}
	if ra := rwc.RemoteAddr(); ra != nil {
		c.remote = ra.String()
	}
	c.lr.r = rwc
	c.br = bufio.NewReaderSize(&c.lr, readBufSize)
	ctx := context.WithValue(s.ctx, http.ServerContextKey, s.Fallback)
	c.ctx, c.cancel = context.WithCancel(context.WithValue(ctx, http.LocalAddrContextKey, rwc.LocalAddr()))
	c.base = (&http.Request{RemoteAddr: c.remote}).WithContext(c.ctx)
	c.res.c = c
	c.dreq.c, c.drep.c, c.drep.r = c, c, &c.dreq
	c.res.header = http.Header{}
	return c
}

// setReadDeadline sets the read deadline; exact unless coarse, when a deadline set less than a second earlier
// than t is kept (a connection making 8 requests a second need not reset its idle timer each time).
func (c *conn) setReadDeadline(t time.Time, coarse bool) {
	if coarse && !c.deadline.IsZero() && !c.deadline.After(t) && t.Sub(c.deadline) < time.Second {
		return
	}
	c.deadline = t
	c.rwc.SetReadDeadline(t)
}

func (c *conn) serve() {
	defer c.end()
	if d := c.s.headerTimeout(); d > 0 {
		c.setReadDeadline(time.Now().Add(d), false)
	}
	for first := true; ; first = false {
		c.state.Store(stateIdle)
		if d := c.s.idleTimeout(); d > 0 && !first && c.br.Buffered() == 0 {
			c.setReadDeadline(time.Now().Add(d), true)
		}
		if c.s.closing.Load() {
			return
		}
		c.lr.n = c.s.headerLimit()
		line, err := peekLine(c.br)
		c.state.Store(stateActive)
		if errors.Is(err, errLongLine) {
			c.handoff()
			return
		}
		if err == io.EOF && c.br.Buffered() > 0 {
			c.readError(io.ErrUnexpectedEOF) // ended within a request line: 400, as net/http
			return
		}
		if err != nil {
			return // closed or timed out: nothing to answer
		}
		headLen, fast := c.parseRequest()
		method, path, ok := c.head.method, c.head.path, true
		if !fast {
			method, path, ok = requestLine(line)
		}
		if !ok || !c.s.Fast(method, path) {
			c.handoff()
			return
		}
		var req *http.Request
		if fast {
			c.br.Discard(headLen)
		} else {
			if d := c.s.headerTimeout(); d > 0 && !headComplete(c.br) {
				c.setReadDeadline(time.Now().Add(d), false)
			}
			if req, err = http.ReadRequest(c.br); err != nil {
				c.readError(err)
				return
			}
		}
		c.lr.n = math.MaxInt64
		if h := &c.head; fast && c.s.Direct != nil && h.minor == 1 && h.method != http.MethodOptions && h.hasHost &&
			httpguts.ValidHostHeader(h.host) {
			served, keep := c.serveDirect()
			if served && !keep {
				return
			} else if served {
				continue
			}
			req = c.dreq.req // made by Direct, or nil
		}
		if fast && req == nil {
			req = c.head.request(c.base)
		}
		if !c.serveRequest(req, fast) {
			return
		}
	}
}

// end closes the connection (unless Fallback has it) when its goroutine ends, normally or by a panic.
func (c *conn) end() {
	if v := recover(); v != nil && v != http.ErrAbortHandler {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		c.s.log().Error("httpfront: panic serving a request; its connection is closed", "remote", c.remote,
			"panic", fmt.Sprint(v), "stack", string(buf))
	}
	if c.linger {
		c.lingerClose()
	}
	if !c.handed {
		c.rwc.Close()
	}
	c.cancel()
	c.s.forget(c)
}

// lingerClose half-closes the connection and reads what the client still sends, for a while: closing a socket with
// unread data resets the connection, and the client may then lose the response (net/http's closeWriteAndWait).
func (c *conn) lingerClose() {
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.CopyN(io.Discard, c.rwc, 1<<20)
}

// handoff gives the connection, with what was read of it, to Fallback.
func (c *conn) handoff() {
	pre, _ := c.br.Peek(c.br.Buffered())
	c.rwc.SetReadDeadline(time.Time{})
	c.handed = true
	c.s.hand.deliver(&handoffConn{Conn: c.rwc, pre: bytes.Clone(pre)})
}

const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// readError answers a request that could not be read, as net/http does, before the connection is closed.
func (c *conn) readError(err error) {
	switch {
	case c.lr.n <= 0:
		const msg = "431 Request Header Fields Too Large"
		io.WriteString(c.rwc, "HTTP/1.1 "+msg+errorHeaders+msg)
		c.linger = true
	case isCommonNetReadError(err):
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"): // http.ReadRequest's unexported error
		io.WriteString(c.rwc, "HTTP/1.1 501 Not Implemented"+errorHeaders+"Unsupported transfer encoding")
	default:
		const msg = "400 Bad Request"
		io.WriteString(c.rwc, "HTTP/1.1 "+msg+errorHeaders+msg)
	}
}

// badRequest answers a request net/http's server would refuse after parsing it.
func (c *conn) badRequest(why string) {
	msg := "400 Bad Request: " + why
	io.WriteString(c.rwc, "HTTP/1.1 "+msg+errorHeaders+msg)
}

func isCommonNetReadError(err error) bool {
	if err == io.EOF {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// serveRequest checks a parsed request as net/http's server does, runs the handler, and tells whether the
// connection can carry another request. fast: parseRequest made it from c.base (its fields are valid already).
func (c *conn) serveRequest(req *http.Request, fast bool) bool {
	// http.ReadRequest moved the Host header to req.Host (an empty one is refused here, where net/http accepts it)
	if req.ProtoAtLeast(1, 1) && req.Host == "" {
		c.badRequest("missing required Host header")
		return false
	}
	if !httpguts.ValidHostHeader(req.Host) {
		c.badRequest("malformed Host header")
		return false
	}
	if !fast { // parseRequest checked the fields
		for k, vv := range req.Header {
			if !httpguts.ValidHeaderFieldName(k) {
				c.badRequest("invalid header name")
				return false
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					c.badRequest("invalid header value")
					return false
				}
			}
		}
	}
	expect := req.Header["Expect"]
	continues := httpguts.HeaderValuesContainsToken(expect, "100-continue")
	if len(expect) > 0 && expect[0] != "" && !continues {
		io.WriteString(c.rwc, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return false
	}
	if d := c.s.Fallback.ReadTimeout; d > 0 && req.ContentLength != 0 {
		c.setReadDeadline(time.Now().Add(d), false)
	}
	if !fast {
		req = req.WithContext(c.ctx)
		req.RemoteAddr = c.remote
	}
	w := &c.res
	w.reset(req)
	if continues && req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
		w.cont = &continueReader{w: w, rc: req.Body}
		req.Body = w.cont
	}
	w.body = req.Body
	c.s.Handler.ServeHTTP(w, req)
	w.finish()
	return w.reusable()
}

// errLongLine: the request line does not fit the read buffer.
var errLongLine = errors.New("httpfront: request line longer than the read buffer")

// peekLine waits for a whole request line in br and returns it (with its line feed), leaving it in br.
func peekLine(br *bufio.Reader) ([]byte, error) {
	if _, err := br.Peek(1); err != nil {
		return nil, err
	}
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i+1], nil
		}
		if len(b) >= br.Size() {
			return nil, errLongLine
		}
		if _, err := br.Peek(len(b) + 1); err != nil {
			return nil, err
		}
	}
}

// requestLine splits a request line as http.ReadRequest does, and tells whether the front may serve it: HTTP/1.0
// or 1.1, an origin-form target. path is the target's up to its query, as sent.
func requestLine(line []byte) (method, path string, ok bool) {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	m, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, proto, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(target) == 0 || target[0] != '/' || (string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0") {
		return "", "", false
	}
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		target = target[:i]
	}
	if method = internMethod(string(m)); method == "" { // the usual methods without allocating
		method = string(m)
	}
	return method, string(target), true
}

// headComplete tells whether a request's head (up to its blank line) is in br's buffer.
func headComplete(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// limitReader reads from r until n bytes have been read, then reports io.EOF (a request's head too long).
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
