package httpfront

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type viaKey struct{}

// testHandler answers the front's requests (and, through the fallback's mux, the same paths on handed-over
// connections); X-Server tells which server ran it.
//
//	/v1/body?n=N[&cl=1][&status=S][&flush=K]  N bytes of a known pattern, Content-Length declared with cl=1,
//	                                          a Flush after each of K equal writes
//	/v1/step                                  "one", a Flush, then "two" once the test sends on step
//	/v1/block                                 waits for its context, then answers "cancelled"
//	/v1/panic                                 panics
//	/v1/remote                                the request's RemoteAddr
//	/v1/short                                 declares 10 bytes and writes 5
//	/v1/body-read                             echoes the request body
type testHandler struct {
	step    chan struct{}
	blocked chan struct{} // a /v1/block request started
	safe    bool          // for fuzzing: /v1/step, /v1/block and /v1/panic are 404, sizes bounded
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func (h *testHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	via := "front"
	if r.Context().Value(viaKey{}) != nil {
		via = "fallback"
	}
	w.Header().Set("X-Server", via)
	q := r.URL.Query()
	if h.safe && (r.URL.Path == "/v1/step" || r.URL.Path == "/v1/block" || r.URL.Path == "/v1/panic") {
		http.NotFound(w, r)
		return
	}
	switch r.URL.Path {
	case "/v1/body":
		n, _ := strconv.Atoi(q.Get("n"))
		k, _ := strconv.Atoi(q.Get("flush"))
		if h.safe {
			n, k = min(max(n, 0), 1<<20), min(max(k, 0), 100)
		}
		body := pattern(n)
		if q.Get("cl") == "1" {
			w.Header().Set("Content-Length", strconv.Itoa(n))
		}
		if s, _ := strconv.Atoi(q.Get("status")); s != 0 && (!h.safe || s >= 200 && s <= 599) {
			w.WriteHeader(s)
		}
		if k == 0 {
			w.Write(body)
			return
		}
		for i := range k {
			w.Write(body[i*n/k : (i+1)*n/k])
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}
	case "/v1/step":
		w.Write([]byte("one"))
		w.(http.Flusher).Flush()
		<-h.step
		w.Write([]byte("two"))
	case "/v1/block":
		h.blocked <- struct{}{}
		<-r.Context().Done()
		w.Write([]byte("cancelled"))
	case "/v1/panic":
		panic("test panic")
	case "/v1/remote":
		w.Write([]byte(r.RemoteAddr))
	case "/v1/short":
		w.Header().Set("Content-Length", "10")
		w.Write([]byte("short"))
	case "/v1/headers": // set=Key:Value (as given, not canonicalised), then status, then body
		for _, kv := range q["set"] {
			k, v, _ := strings.Cut(kv, ":")
			w.Header()[k] = append(w.Header()[k], v)
		}
		if s, _ := strconv.Atoi(q.Get("status")); s != 0 {
			w.WriteHeader(s)
		}
		io.WriteString(w, q.Get("body"))
	case "/v1/body-read":
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	default:
		w.Header().Set("X-Api", "yes")
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "api %s %s %s", r.Method, r.URL.Path, b)
	}
}

// errorLog records the error records logged (panics).
type errorLog struct{ n atomic.Int32 }

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.n.Add(1)
	}
	return nil
}
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *errorLog) WithGroup(string) slog.Handler      { return l }

type testServer struct {
	*Server
	addr    string
	h       *testHandler
	errs    *errorLog
	served  chan error
	stopped bool
}

// start serves a front on loopback; cleanup shuts it down and checks that its goroutines are gone.
func start(t testing.TB, tune func(*http.Server)) *testServer {
	t.Helper()
	base := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &testHandler{step: make(chan struct{}), blocked: make(chan struct{}, 8)}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	fb := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return context.WithValue(ctx, viaKey{}, true) },
		ErrorLog:    nil}
	if tune != nil {
		tune(fb)
	}
	errs := &errorLog{}
	ts := &testServer{addr: ln.Addr().String(), h: h, errs: errs, served: make(chan error, 1),
		Server: &Server{Handler: h, Direct: h.direct, Fallback: fb, Log: slog.New(errs), Fast: func(method, path string) bool {
			return (method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions) &&
				strings.HasPrefix(path, "/v1/") && !strings.Contains(path, "%")
		}}}
	go func() { ts.served <- ts.Serve(ln) }()
	t.Cleanup(func() {
		if !ts.stopped {
			ts.stop(t)
		}
		if _, fuzzing := t.(*testing.F); !fuzzing { // the fuzzing engine starts goroutines of its own
			waitGoroutines(t, base)
		}
	})
	return ts
}

// stop shuts the server down and checks that Serve returned.
func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	ts.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-ts.served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
}

// waitGoroutines waits for the goroutine count to come back to base (connections' goroutines end after their
// sockets close); it fails if they are still there after 10 s.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	for i := 0; ; i++ {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if i == 1000 {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// client is a raw connection that writes requests and reads responses.
type client struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test instead of stalling it
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one response to a request made with method, and its body.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

func (c *client) get(target string) (*http.Response, string) {
	c.t.Helper()
	c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n")
	return c.read("GET")
}

// closed checks that the server closed the connection (after what was read).
func (c *client) closed() {
	c.t.Helper()
	if b, err := io.ReadAll(c.br); err != nil || len(b) > 0 {
		c.t.Fatalf("want the connection closed, read %q, %v", b, err)
	}
}

func TestKeepAlive(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	for _, tc := range []struct {
		target  string
		n       int
		cl      int64 // Content-Length the client sees; -1: chunked
		chunked bool
	}{
		{"/v1/body?n=0", 0, 0, false},
		{"/v1/body?n=10", 10, 10, false},
		{"/v1/body?n=4096", 4096, 4096, false},            // held until the end: its length computed
		{"/v1/body?n=4097", 4097, -1, true},               // more than is held: chunked
		{"/v1/body?n=100000&cl=1", 100000, 100000, false}, // declared: head and body in one writev
		{"/v1/body?n=3000&cl=1", 3000, 3000, false},
		{"/v1/body?n=100000&flush=4", 100000, -1, true},
		{"/v1/body?n=10&flush=1", 10, -1, true},
		{"/v1/body?n=100000&cl=1&flush=3", 100000, 100000, false},
		{"/v1/body?n=5&status=404", 5, 5, false},
	} {
		resp, body := c.get(tc.target)
		chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		if body != string(pattern(tc.n)) || resp.ContentLength != tc.cl || chunked != tc.chunked || resp.Close {
			t.Errorf("%s: %d bytes, Content-Length %d, chunked %v, close %v", tc.target, len(body), resp.ContentLength, chunked, resp.Close)
		}
		if resp.Header.Get("X-Server") != "front" || resp.Header.Get("Date") == "" {
			t.Errorf("%s: header %v", tc.target, resp.Header)
		}
		if tc.n > 0 && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q, want it sniffed", tc.target, resp.Header.Get("Content-Type"))
		}
	}
	resp, body := c.get("/v1/remote")
	if body != c.c.LocalAddr().String() || resp.StatusCode != 200 {
		t.Errorf("RemoteAddr %q, want %q", body, c.c.LocalAddr())
	}
}

func TestHEAD(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	for _, tc := range []struct {
		target string
		cl     int64
	}{
		{"/v1/body?n=100000&cl=1", 100000},
		{"/v1/body?n=300", 300}, // written, not declared: computed
		{"/v1/body?n=0", -1},    // nothing written: unknown, as net/http
		{"/v1/body?n=9000", -1}, // more than is held: unknown
	} {
		c.send("HEAD " + tc.target + " HTTP/1.1\r\nHost: test\r\n\r\n")
		resp, body := c.read("HEAD")
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != tc.cl || len(resp.TransferEncoding) > 0 {
			t.Errorf("HEAD %s: %d, Content-Length %d, %v, body %q", tc.target, resp.StatusCode, resp.ContentLength, resp.TransferEncoding, body)
		}
	}
	// no body was sent: the next response is read right
	if _, body := c.get("/v1/body?n=7"); body != "abcdefg" {
		t.Errorf("GET after HEAD: %q", body)
	}
}

func TestNoBodyStatuses(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	for _, status := range []int{204, 304} {
		resp, body := c.get("/v1/body?n=5&status=" + strconv.Itoa(status))
		if resp.StatusCode != status || body != "" || resp.Header.Get("Content-Length") != "" || len(resp.TransferEncoding) > 0 {
			t.Errorf("%d: %d %v body %q", status, resp.StatusCode, resp.Header, body)
		}
	}
	c.send("OPTIONS /v1/body HTTP/1.1\r\nHost: test\r\n\r\n")
	if resp, body := c.read("OPTIONS"); resp.StatusCode != 200 || body != "" || resp.ContentLength != 0 {
		t.Errorf("OPTIONS: %d %q Content-Length %d", resp.StatusCode, body, resp.ContentLength)
	}
	if _, body := c.get("/v1/body?n=3"); body != "abc" {
		t.Errorf("after: %q", body)
	}
}

// TestHeadersAsNetHTTP: what a handler sets in its header comes out as net/http sends it (values cleaned, invalid
// names dropped, framing headers decided the same way).
func TestHeadersAsNetHTTP(t *testing.T) {
	ts := start(t, nil)
	ref := reference(t)
	for _, q := range []string{
		"set=Transfer-Encoding:gzip&body=hello",
		"set=Transfer-Encoding:chunked&body=hello",
		"set=Transfer-Encoding:identity&body=hello",
		"set=Content-Length:5&set=Transfer-Encoding:chunked&body=abcde",
		"set=Content-Length:5&set=Transfer-Encoding:identity&body=abcde",
		"set=Connection:close&body=x",
		"set=Connection:keep-alive&body=x",
		// (an invalid Content-Length: net/http sends the body chunked, the front with its length; both drop the value)
		"set=Content-Type:text/x&set=Content-Length:3&status=304",
		"set=Content-Type:text/x&set=Content-Length:3&status=204",
		"set=X-Evil:a%0D%0AInjected:%20b&body=x",
		"set=Bad%20Name:v&body=x",
		"set=X-Trim:%20%20padded%09&body=x",
		"set=Date:custom&body=x",
		"set=Content-Encoding:gzip&body=plain",
		"set=X-Two:1&set=X-Two:2&status=201",
		"status=599&body=x",
		"status=404",
	} {
		raw := "GET /v1/headers?" + q + " HTTP/1.1\r\nHost: t\r\n\r\n"
		if got, want := normalize(exchange(t, ts.addr, raw)), normalize(exchange(t, ref, raw)); got != want {
			t.Errorf("%s:\nfront    %q\nnet/http %q", q, got, want)
		}
	}
}

// normalize sorts a response's header lines (net/http sorts them, the front does not) and drops X-Server.
func normalize(resp string) string {
	head, body, _ := strings.Cut(resp, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	fields := slices.DeleteFunc(lines[1:], func(l string) bool { return strings.HasPrefix(l, "X-Server:") })
	slices.Sort(fields)
	return lines[0] + "\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n" + body
}

// TestFlush: a flushed part of a response reaches the client while the handler is still running.
func TestFlush(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	c.send("GET /v1/step HTTP/1.1\r\nHost: test\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) == 0 || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("Transfer-Encoding %v", resp.TransferEncoding)
	}
	first := make([]byte, 3)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "one" {
		t.Fatalf("first chunk %q, %v", first, err)
	}
	ts.h.step <- struct{}{} // the handler goes on only now
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "two" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	if _, body := c.get("/v1/body?n=2"); body != "ab" {
		t.Errorf("after: %q", body)
	}
}

// TestHandoff: requests the front does not serve go to the fallback server with their connection, first or later
// on it, and are answered as net/http answers them.
func TestHandoff(t *testing.T) {
	ts := start(t, nil)
	// first on its connection
	c := dial(t, ts.addr)
	c.send("POST /CreateChannel HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\n{\"a\"")
	if resp, body := c.read("POST"); body != `api POST /CreateChannel {"a"` || resp.Header.Get("X-Server") != "fallback" {
		t.Errorf("POST first: %q %v", body, resp.Header)
	}
	if resp, body := c.get("/v1/body?n=3"); body != "abc" || resp.Header.Get("X-Server") != "fallback" {
		t.Errorf("GET after the hand-off: %q %v", body, resp.Header)
	}

	// after requests the front served
	c = dial(t, ts.addr)
	if resp, body := c.get("/v1/body?n=4&cl=1"); body != "abcd" || resp.Header.Get("X-Server") != "front" {
		t.Errorf("GET: %q %v", body, resp.Header)
	}
	c.send("POST /v1/body-read HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
	if resp, body := c.read("POST"); body != "hello" || resp.Header.Get("X-Server") != "fallback" {
		t.Errorf("POST after a GET: %q %v", body, resp.Header)
	}
	if resp, body := c.get("/v1/body?n=2"); body != "ab" || resp.Header.Get("X-Server") != "fallback" {
		t.Errorf("GET after the hand-off: %q %v", body, resp.Header)
	}

	// what the front does not take, answered as net/http alone answers it: other paths, escaped paths, absolute
	// targets, other protocol versions, HTTP/2's preface, request lines longer than the read buffer
	ref := reference(t)
	for _, raw := range []string{
		"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n",
		"GET /v1/b%6Fdy?n=1 HTTP/1.1\r\nHost: test\r\n\r\n",
		"GET http://test/v1/body?n=1 HTTP/1.1\r\nHost: test\r\n\r\n",
		"GET /v1/body?n=1 HTTP/1.2\r\nHost: test\r\n\r\n",
		"GET /v1/body?n=1 HTTP/0.9\r\nHost: test\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET /v1/body?n=1&x=" + strings.Repeat("x", 5000) + " HTTP/1.1\r\nHost: test\r\n\r\n",
		"\r\nGET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\n\r\n",
	} {
		got, want := exchange(t, ts.addr, raw), exchange(t, ref, raw)
		if got != want {
			t.Errorf("%.40q:\n%q\nnet/http alone:\n%q", raw, got, want)
		}
	}
}

// reference serves testHandler with net/http alone, marked as the fallback is.
func reference(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", &testHandler{})
	srv := &http.Server{Handler: mux, MaxHeaderBytes: 1024, ErrorLog: log.New(io.Discard, "", 0),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context { return context.WithValue(ctx, viaKey{}, true) }}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// exchange sends raw on a new connection, half-closes it, and returns what the server sent until it closed, the
// Date header's value blanked.
func exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	c.c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("%.40q: %v after %q", raw, err, b)
	}
	lines := strings.Split(string(b), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Date: ") {
			lines[i] = "Date: -"
		}
	}
	return strings.Join(lines, "\r\n")
}

func TestPipelined(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	c.send("GET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\n\r\nHEAD /v1/body?n=2&cl=1 HTTP/1.1\r\nHost: test\r\n\r\n" +
		"GET /v1/body?n=50000&cl=1 HTTP/1.1\r\nHost: test\r\n\r\nGET /v1/body?n=3 HTTP/1.1\r\nHost: test\r\n\r\n")
	for i, want := range []struct{ method, body string }{{"GET", "a"}, {"HEAD", ""}, {"GET", string(pattern(50000))}, {"GET", "abc"}} {
		resp, body := c.read(want.method)
		if body != want.body || resp.Header.Get("X-Server") != "front" {
			t.Errorf("response %d: %d bytes, %v", i, len(body), resp.Header)
		}
	}
	// a request to hand over in the middle: it and what follows go to the fallback, in order
	c.send("GET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\n\r\nDELETE /thing HTTP/1.1\r\nHost: test\r\n\r\nGET /v1/body?n=2 HTTP/1.1\r\nHost: test\r\n\r\n")
	for i, want := range []struct{ body, via string }{{"a", "front"}, {"api DELETE /thing ", "fallback"}, {"ab", "fallback"}} {
		resp, body := c.read("GET")
		if body != want.body || resp.Header.Get("X-Server") != want.via {
			t.Errorf("response %d: %q by %q", i, body, resp.Header.Get("X-Server"))
		}
	}
}

// TestBadRequests: requests the front takes by their request line but cannot serve are answered as net/http
// answers them, and the connection closed; bodies of GETs are drained or the connection closed.
func TestBadRequests(t *testing.T) {
	ts := start(t, func(s *http.Server) { s.MaxHeaderBytes = 1024 })
	ref := reference(t)
	for _, tc := range []struct{ name, raw, status string }{
		{"malformed header", "GET /v1/body HTTP/1.1\r\nHost: test\r\nNo colon\r\n\r\n", "400"},
		{"no Host", "GET /v1/body HTTP/1.1\r\n\r\n", "400"},
		{"bad Host", "GET /v1/body HTTP/1.1\r\nHost: a b\r\n\r\n", "400"},
		{"two Hosts", "GET /v1/body HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
		{"too long a head", "GET /v1/body HTTP/1.1\r\nHost: test\r\nX: " + strings.Repeat("y", 6000) + "\r\n\r\n", "431"},
		{"unknown expectation", "GET /v1/body HTTP/1.1\r\nHost: test\r\nExpect: magic\r\n\r\n", "417"},
		{"unknown transfer coding", "GET /v1/body HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: zip\r\n\r\n", "501"},
		{"bad Content-Length", "GET /v1/body HTTP/1.1\r\nHost: test\r\nContent-Length: x\r\n\r\n", "400"},
		{"truncated head", "GET /v1/body HTTP/1.1\r\nHost: te", "400"},
		{"truncated line", "GET /v1/bo", "400"},
		{"truncated body", "GET /v1/body HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc", "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := exchange(t, ts.addr, tc.raw), exchange(t, ref, tc.raw)
			status := func(s string) string {
				_, rest, _ := strings.Cut(s, " ")
				code, _, _ := strings.Cut(rest, " ")
				return code
			}
			if status(got) != tc.status || status(want) != tc.status {
				t.Errorf("front: %q\nnet/http: %q\nwant %s from both", got, want, tc.status)
			}
		})
	}
	t.Run("body drained", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.send("GET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
		c.send("GET /v1/body?n=2 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
		for _, want := range []string{"a", "ab"} {
			if resp, body := c.read("GET"); body != want || resp.Close || resp.Header.Get("X-Server") != "front" {
				t.Errorf("%q close %v %v", body, resp.Close, resp.Header)
			}
		}
	})
	t.Run("body too large", func(t *testing.T) {
		c := dial(t, ts.addr)
		n := maxDrain + 10
		c.send("GET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n")
		go c.c.Write(make([]byte, n)) // the server may stop reading it
		if resp, body := c.read("GET"); body != "a" || !resp.Close {
			t.Errorf("%q close %v", body, resp.Close)
		}
		c.closed()
	})
	t.Run("expect 100-continue, body read", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.send("GET /v1/body-read HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
		line, err := c.br.ReadString('\n')
		if line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("%q %v, want 100 Continue", line, err)
		}
		c.br.ReadString('\n')
		c.send("xyz")
		if resp, body := c.read("GET"); body != "xyz" || resp.Close {
			t.Errorf("%q close %v", body, resp.Close)
		}
		if _, body := c.get("/v1/body?n=1"); body != "a" {
			t.Errorf("after: %q", body)
		}
	})
	t.Run("expect 100-continue, body not read", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.send("GET /v1/body?n=1 HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
		if resp, body := c.read("GET"); body != "a" || !resp.Close {
			t.Errorf("%q close %v", body, resp.Close)
		}
		c.closed()
	})
}

func TestConnectionClose(t *testing.T) {
	ts := start(t, nil)
	for _, tc := range []struct {
		name, raw string
		close     bool
		keepAlive bool // the response says Connection: keep-alive
	}{
		{"1.1 close", "GET /v1/body?n=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", true, false},
		{"1.0", "GET /v1/body?n=1 HTTP/1.0\r\n\r\n", true, false},
		{"1.0 keep-alive", "GET /v1/body?n=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, true},
		{"1.0 keep-alive, no length", "GET /v1/body?n=10&flush=2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send(tc.raw)
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			if resp.Close != tc.close || (resp.Header.Get("Connection") == "keep-alive") != tc.keepAlive || resp.Header.Get("X-Server") != "front" {
				t.Errorf("close %v, want %v; %v", resp.Close, tc.close, resp.Header)
			}
			if tc.close {
				c.closed()
				return
			}
			c.send(tc.raw)
			if resp, body := c.read("GET"); body != "a" {
				t.Errorf("second: %d %q", resp.StatusCode, body)
			}
		})
	}
	t.Run("body shorter than declared", func(t *testing.T) {
		c := dial(t, ts.addr)
		c.send("GET /v1/short HTTP/1.1\r\nHost: t\r\n\r\n")
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); string(b) != "short" || err != io.ErrUnexpectedEOF {
			t.Errorf("%q, %v; want the 5 bytes and the connection closed", b, err)
		}
	})
}

// TestPanic: a panic in Handler or in Direct is logged and closes its connection; the server goes on.
func TestPanic(t *testing.T) {
	for _, path := range []string{"/v1/panic", "/v1/direct/panic"} {
		ts := start(t, nil)
		c := dial(t, ts.addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n")
		c.closed()
		if ts.errs.n.Load() != 1 {
			t.Errorf("%s: %d errors logged, want the panic", path, ts.errs.n.Load())
		}
		if _, body := dial(t, ts.addr).get("/v1/body?n=1"); body != "a" {
			t.Errorf("%s: after the panic: %q", path, body)
		}
	}
}

func TestTimeouts(t *testing.T) {
	ts := start(t, func(s *http.Server) {
		s.ReadHeaderTimeout = 50 * time.Millisecond
		s.IdleTimeout = 50 * time.Millisecond
	})
	idle := dial(t, ts.addr)
	idle.get("/v1/body?n=1")
	idle.closed()
	silent := dial(t, ts.addr)
	silent.closed()
	partial := dial(t, ts.addr)
	partial.send("GET /v1/body HTTP/1.1\r\nHost: t\r\n")
	partial.closed()
}

// TestShutdown: Shutdown closes idle connections (new, between requests, handed over), cancels the context of a
// request waiting in its handler, which answers with Connection: close, and waits for it; then everything is gone
// (start's cleanup checks the goroutines).
func TestShutdown(t *testing.T) {
	ts := start(t, nil)
	fresh := dial(t, ts.addr)
	between := dial(t, ts.addr)
	between.get("/v1/body?n=1")
	handed := dial(t, ts.addr)
	handed.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
	handed.read("POST")
	blocked := dial(t, ts.addr)
	blocked.send("GET /v1/block HTTP/1.1\r\nHost: t\r\n\r\n")
	<-ts.h.blocked

	ts.stop(t)
	resp, body := blocked.read("GET")
	if body != "cancelled" || !resp.Close {
		t.Errorf("blocked request: %q, close %v", body, resp.Close)
	}
	for _, c := range []*client{fresh, between, handed, blocked} {
		c.closed()
	}
	if _, err := net.Dial("tcp", ts.addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

// TestShutdownDeadline: a response the client does not read holds Shutdown until its deadline; Close then ends it.
func TestShutdownDeadline(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	c.send("GET /v1/body?n=50000000&cl=1 HTTP/1.1\r\nHost: t\r\n\r\n") // never read
	if _, err := c.br.Peek(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v, want the context's error", err)
	}
	ts.stopped = true
	ts.Close()
	if err := <-ts.served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestServeAfterClose(t *testing.T) {
	s := &Server{Fallback: &http.Server{}}
	s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the listener is still open")
	}
}

func TestAppendField(t *testing.T) {
	for in, want := range map[string]string{"v": "k: v\r\n", " a\r\nb \t": "k: a  b\r\n", "": "k: \r\n"} {
		if got := string(appendField(nil, "k", in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// BenchmarkFront: one keep-alive connection's GETs of a 100 KB body with a declared length, and of a small
// playlist-like body, served by net/http (the baseline) and by the front, in the same run.
func BenchmarkFront(b *testing.B) {
	for _, size := range []int{1500, 100_000} {
		for _, front := range []bool{false, true} {
			name := fmt.Sprintf("size=%d/net-http", size)
			if front {
				name = fmt.Sprintf("size=%d/front", size)
			}
			b.Run(name, func(b *testing.B) { benchFront(b, size, front) })
		}
	}
}

func benchFront(b *testing.B, size int, front bool) {
	body := pattern(size)
	cl := []string{strconv.Itoa(size)}
	ctype := []string{"video/mp2t"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = ctype
		w.Header()["Content-Length"] = cl
		w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fb := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	var wg sync.WaitGroup
	wg.Add(1)
	if front {
		s := &Server{Handler: h, Fallback: fb, Fast: func(string, string) bool { return true }}
		go func() { defer wg.Done(); s.Serve(ln) }()
		defer s.Close()
	} else {
		go func() { defer wg.Done(); fb.Serve(ln) }()
		defer fb.Close()
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	req := []byte("GET /v1/playlist/tok/720p30/123.4.ts HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != int64(size) {
			b.Fatal(n, err)
		}
	}
	b.StopTimer()
	c.Close()
	ln.Close()
	wg.Wait()
}

// TestRequestLine: what the front takes from a request line.
func TestRequestLine(t *testing.T) {
	for line, want := range map[string]string{
		"GET /v1/a?b=c HTTP/1.1\r\n":  "GET /v1/a",
		"HEAD /x HTTP/1.0\n":          "HEAD /x",
		"BREW /x HTTP/1.1\r\n":        "BREW /x",
		"GET /x HTTP/2.0\r\n":         "",
		"GET * HTTP/1.1\r\n":          "",
		"GET http://h/x HTTP/1.1\r\n": "",
		"GET /x  HTTP/1.1\r\n":        "",
		"GET /x\r\n":                  "",
		"\r\n":                        "",
	} {
		m, p, ok := requestLine([]byte(line))
		got := ""
		if ok {
			got = m + " " + p
		}
		if got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}

// FuzzFront: whatever a client sends, the front (and the net/http server it hands connections to) answers or
// closes the connection once the client is done, never panics (a panic would be logged as an error), and keeps
// serving.
func FuzzFront(f *testing.F) {
	for _, s := range []string{
		"GET /v1/body?n=10 HTTP/1.1\r\nHost: t\r\n\r\n",
		"HEAD /v1/body?n=10&cl=1 HTTP/1.1\r\nHost: t\r\n\r\n",
		"OPTIONS /v1/body HTTP/1.1\r\nHost: t\r\nOrigin: https://x\r\n\r\n",
		"GET /v1/body?n=5000&flush=3 HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/body?n=1 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body?n=1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}GET /v1/body?n=2 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body?n=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /v1/body?n=1 HTTP/1.0\r\n\r\n",
		"GET /v1/body-read HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"GET /v1/body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET /v1/body?n=4 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /v1/body HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"GET /v1/body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /v1/body HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
		"GET /v1/body?n=1 HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
		"GET /v1/body?n=1%0d%0aSet-Cookie:%20x HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body?n=1&status=204 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body?n=1&status=304&cl=1 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body?n=1 HTTP/1.1\r\nHost: t\r\n X: folded\r\n\r\n",
		"GET /v1/" + strings.Repeat("a", 5000) + " HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/body HTTP/1.1\r\nHost: t\r\nX: " + strings.Repeat("b", 70000) + "\r\n\r\n",
		"GET /v1/bo", "GET /v1/body HTTP/1.1\r\nHo", "\r\n\r\n", "\x00\xff\xfe", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET http://t/v1/body HTTP/1.1\r\nHost: t\r\n\r\n", "GET /v1/body HTTP/1.1\nHost: t\n\n",
		"GET /v1/step HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/direct/body?n=100&parts=3 HTTP/1.1\r\nHost: t\r\n\r\nHEAD /v1/direct/body?n=3 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/direct/echo?q HTTP/1.1\r\nHost: t\r\nOrigin: o\r\norigin: p\r\nX-None:\r\n\r\n",
		"GET /v1/direct/std HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/direct/decline HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /v1/direct/nothing HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/direct/body?status=204&n=1 HTTP/1.1\r\nHost: t\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	ts := start(f, nil)
	ts.h.safe = true
	f.Fuzz(func(t *testing.T, data []byte) {
		c := dial(t, ts.addr)
		c.c.SetDeadline(time.Now().Add(5 * time.Second))
		c.c.Write(data) // the server may have closed already
		c.c.(*net.TCPConn).CloseWrite()
		_, err := io.Copy(io.Discard, c.br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the server neither finished nor closed the connection")
		}
		if n := ts.errs.n.Load(); n > 0 {
			t.Fatalf("%d errors logged (a panic)", n)
		}
		if _, body := dial(t, ts.addr).get("/v1/body?n=3"); body != "abc" {
			t.Fatalf("the server stopped serving: %q", body)
		}
	})
}
