package httpfront

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// direct is the test server's Server.Direct: the paths under /v1/direct/, answered with X-Server: direct.
//
//	/v1/direct/body?n=N[&parts=K][&status=S]  N bytes of the pattern, sent as K slices (default 1)
//	/v1/direct/echo                            the method, path and query; X-Origin and X-Host from the request's
//	                                           fields, X-None from a field it does not have
//	/v1/direct/flush                           "one", a Flush, then "two" once the test sends on step (Std)
//	/v1/direct/std                             the handler's answer through Std, to r.HTTP()
//	/v1/direct/decline                         makes r.HTTP() and declines: the handler answers
//	/v1/direct/nothing                         sends nothing
//	/v1/direct/value?set=V                     the connection's value (ConnValue), then sets it to V
//	/v1/direct/block                           waits for its context, then sends "cancelled"
//	/v1/direct/panic                           panics
//
// Other paths are declined.
func (h *testHandler) direct(w *Reply, r *Request) bool {
	if h.safe && (r.Path == "/v1/direct/flush" || r.Path == "/v1/direct/block" || r.Path == "/v1/direct/panic") {
		return false
	}
	w.Field("X-Server", "direct")
	switch r.Path {
	case "/v1/direct/body":
		n, _ := strconv.Atoi(queryGet(r.RawQuery, "n"))
		k, _ := strconv.Atoi(queryGet(r.RawQuery, "parts"))
		status, _ := strconv.Atoi(queryGet(r.RawQuery, "status"))
		n, k = min(max(n, 0), 1<<20), min(max(k, 1), 20)
		if status < 200 || status > 599 {
			status = http.StatusOK
		}
		body := pattern(n)
		parts := make([][]byte, k)
		for i := range k {
			parts[i] = body[i*n/k : (i+1)*n/k]
		}
		w.Field("Content-Type", "text/plain")
		w.Send(status, parts...)
	case "/v1/direct/echo":
		w.Field("X-Origin", r.Header("Origin"))
		w.Field("X-Host", r.Header("host"))
		w.Field("X-None", r.Header("X-None"))
		w.Send(http.StatusOK, []byte(r.Method+" "+r.Path+" "+r.RawQuery))
	case "/v1/direct/flush":
		sw := w.Std()
		sw.Header().Set("X-Server", "direct")
		sw.Write([]byte("one"))
		sw.(http.Flusher).Flush()
		<-h.step
		sw.Write([]byte("two"))
	case "/v1/direct/std":
		h.ServeHTTP(w.Std(), r.HTTP())
	case "/v1/direct/decline":
		r.HTTP()
		return false
	case "/v1/direct/nothing":
	case "/v1/direct/value":
		v, _ := r.ConnValue().(string)
		r.SetConnValue(queryGet(r.RawQuery, "set"))
		w.Send(http.StatusOK, []byte(v))
	case "/v1/direct/block":
		h.blocked <- struct{}{}
		<-r.Context().Done()
		w.Send(http.StatusOK, []byte("cancelled"))
	case "/v1/direct/panic":
		panic("test panic")
	default:
		return false
	}
	return true
}

// queryGet is the first value of key in a raw query (test paths need no unescaping).
func queryGet(raw, key string) string {
	for kv := range strings.SplitSeq(raw, "&") {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// TestDirect: Server.Direct's answers on one keep-alive connection: head and body as sent, Content-Length and
// Date from the front, HEAD without its body, statuses without one, the request's fields looked up in any case,
// Std's ResponseWriter (chunked, flushed), a declined request answered by Handler with the request Direct made,
// and an empty 200 when Direct sends nothing.
func TestDirect(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	for _, tc := range []struct {
		target string
		n      int
	}{{"/v1/direct/body?n=0", 0}, {"/v1/direct/body?n=10", 10}, {"/v1/direct/body?n=100000&parts=3", 100000},
		{"/v1/direct/body?n=5000&parts=20", 5000}} {
		resp, body := c.get(tc.target)
		if resp.StatusCode != 200 || body != string(pattern(tc.n)) || resp.ContentLength != int64(tc.n) ||
			len(resp.TransferEncoding) > 0 || resp.Close {
			t.Errorf("%s: %d, %d bytes, Content-Length %d, %v, close %v", tc.target, resp.StatusCode, len(body),
				resp.ContentLength, resp.TransferEncoding, resp.Close)
		}
		if resp.Header.Get("X-Server") != "direct" || resp.Header.Get("Content-Type") != "text/plain" ||
			resp.Header.Get("Date") == "" {
			t.Errorf("%s: header %v", tc.target, resp.Header)
		}
	}

	c.send("HEAD /v1/direct/body?n=77 HTTP/1.1\r\nHost: t\r\n\r\n")
	if resp, body := c.read("HEAD"); resp.ContentLength != 77 || body != "" || resp.Header.Get("X-Server") != "direct" {
		t.Errorf("HEAD: Content-Length %d, body %q, %v", resp.ContentLength, body, resp.Header)
	}
	for _, status := range []int{204, 304} {
		raw := "GET /v1/direct/body?n=5&status=" + strconv.Itoa(status) + " HTTP/1.1\r\nHost: t\r\n\r\n"
		c.send(raw)
		if resp, body := c.read("GET"); resp.StatusCode != status || body != "" || resp.Header.Get("Content-Length") != "" {
			t.Errorf("%d: %d, body %q, %v", status, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, body := c.get("/v1/direct/body?n=3&status=404"); resp.StatusCode != 404 || body != "abc" {
		t.Errorf("404: %d %q", resp.StatusCode, body)
	}

	c.send("GET /v1/direct/echo?a=1&b HTTP/1.1\r\nhost: the-host:80\r\noRiGiN:  https://x.example \r\nX-Other: y\r\n\r\n")
	resp, body := c.read("GET")
	if body != "GET /v1/direct/echo a=1&b" || resp.Header.Get("X-Origin") != "https://x.example" ||
		resp.Header.Get("X-Host") != "the-host:80" || resp.Header.Get("X-None") != "" {
		t.Errorf("echo: %q %v", body, resp.Header)
	}

	c.send("GET /v1/direct/flush HTTP/1.1\r\nHost: t\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 3)
	if _, err := resp.Body.Read(first); err != nil || string(first) != "one" || resp.Header.Get("X-Server") != "direct" ||
		len(resp.TransferEncoding) == 0 {
		t.Fatalf("flushed: %q %v %v", first, err, resp.Header)
	}
	ts.h.step <- struct{}{}
	if rest, err := io.ReadAll(resp.Body); string(rest) != "two" || err != nil {
		t.Fatalf("after the flush: %q, %v", rest, err)
	}

	if resp, body := c.get("/v1/direct/std?x=1"); body != "api GET /v1/direct/std " || resp.Header.Get("X-Api") != "yes" ||
		resp.Header.Get("X-Server") != "front" {
		t.Errorf("std: %q %v", body, resp.Header)
	}
	if resp, body := c.get("/v1/direct/decline"); body != "api GET /v1/direct/decline " || resp.Header.Get("X-Server") != "front" {
		t.Errorf("declined: %q %v", body, resp.Header)
	}
	if resp, body := c.get("/v1/direct/nothing"); resp.StatusCode != 200 || body != "" || resp.ContentLength != 0 {
		t.Errorf("nothing sent: %d %q %d", resp.StatusCode, body, resp.ContentLength)
	}
	if resp, body := c.get("/v1/body?n=2"); body != "ab" || resp.Header.Get("X-Server") != "front" {
		t.Errorf("a path Direct declines: %q %v", body, resp.Header)
	}
	for i, want := range []string{"", "a", "b"} {
		if _, body := c.get("/v1/direct/value?set=" + string(rune('a'+i))); body != want {
			t.Errorf("connection value %d: %q, want %q", i, body, want)
		}
	}
	if _, body := dial(t, ts.addr).get("/v1/direct/value?set=z"); body != "" {
		t.Errorf("a new connection's value: %q", body)
	}
	if resp, body := c.get("/v1/remote"); body != c.c.LocalAddr().String() || resp.StatusCode != 200 {
		t.Errorf("RemoteAddr %q, want %q", body, c.c.LocalAddr())
	}

	// pipelined, direct and not
	c.send("GET /v1/direct/body?n=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/body?n=2 HTTP/1.1\r\nHost: t\r\n\r\n" +
		"HEAD /v1/direct/body?n=9 HTTP/1.1\r\nHost: t\r\n\r\nGET /v1/direct/body?n=3 HTTP/1.1\r\nHost: t\r\n\r\n")
	for i, want := range []struct{ method, body, via string }{{"GET", "a", "direct"}, {"GET", "ab", "front"},
		{"HEAD", "", "direct"}, {"GET", "abc", "direct"}} {
		if resp, body := c.read(want.method); body != want.body || resp.Header.Get("X-Server") != want.via {
			t.Errorf("pipelined %d: %q by %q", i, body, resp.Header.Get("X-Server"))
		}
	}
}

// TestDirectNotOffered: requests that are not plain HTTP/1.1 GETs and HEADs with a Host are not offered to Direct:
// they are served by Handler (or refused) as before.
func TestDirectNotOffered(t *testing.T) {
	ts := start(t, nil)
	for _, tc := range []struct{ raw, want string }{
		{"GET /v1/direct/echo HTTP/1.0\r\nHost: t\r\n\r\n", "api GET /v1/direct/echo "},
		{"GET /v1/direct/echo HTTP/1.0\r\n\r\n", "api GET /v1/direct/echo "},
		{"OPTIONS /v1/direct/echo HTTP/1.1\r\nHost: t\r\n\r\n", "api OPTIONS /v1/direct/echo "},
		{"GET /v1/direct/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab", "api GET /v1/direct/echo ab"},
		{"GET /v1/direct/echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "api GET /v1/direct/echo "},
		{"GET /v1/direct/echo HTTP/1.1\n\rHost: t\r\n\r\n", "400 Bad Request"},
		{"GET /v1/direct/echo HTTP/1.1\r\n\r\n", "400 Bad Request: missing required Host header"},
		{"GET /v1/direct/echo HTTP/1.1\r\nHost: a b\r\n\r\n", "400 Bad Request: malformed Host header"},
	} {
		got := exchange(t, ts.addr, tc.raw)
		if !strings.HasSuffix(got, tc.want) || strings.Contains(got, "X-Server: direct") {
			t.Errorf("%q:\n%q", tc.raw, got)
		}
	}
}

// TestDirectShutdown: a direct request waiting when Shutdown begins gets its context cancelled and answers with
// Connection: close; the connection then ends.
func TestDirectShutdown(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts.addr)
	c.send("GET /v1/direct/block HTTP/1.1\r\nHost: t\r\n\r\n")
	<-ts.h.blocked
	ts.stop(t)
	resp, body := c.read("GET")
	if body != "cancelled" || !resp.Close || resp.Header.Get("X-Server") != "direct" {
		t.Errorf("blocked direct request: %q, close %v, %v", body, resp.Close, resp.Header)
	}
	c.closed()
}
