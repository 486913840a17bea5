//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/hls"
	"github.com/openivs/openivs/internal/mediatest"
)

// source starts a muxer fed with the hls package's test source, looped at real time until the test ends.
func source(t *testing.T) *hls.Muxer {
	t.Helper()
	ts, err := mediatest.ReadTS("../../internal/hls/testdata/source.ts")
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMuxer(ts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	published := make(chan struct{})
	go func() { publish(ctx, m, ts.Frames); close(published) }()
	t.Cleanup(func() { cancel(); <-published })
	return m
}

// startEpoll serves m from an epoll front with two loops.
func startEpoll(t *testing.T, m *hls.Muxer) *epollFront {
	t.Helper()
	f, err := listenEpoll(m, "127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return within 5 s of the end of its context")
		}
	})
	return f
}

type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(targets ...string) {
	c.t.Helper()
	var b strings.Builder
	for _, target := range targets {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: test\r\nUser-Agent: epoll-test\r\n\r\n", target)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() (status int, ctype string, body []byte) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, err = io.ReadAll(resp.Body); err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func (c *client) get(target string) (int, string, []byte) {
	c.t.Helper()
	c.send(target)
	return c.read()
}

var hintRE = regexp.MustCompile(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="720p30/(\d+)\.(\d+)\.ts"`)

func TestEpollFront(t *testing.T) {
	f := startEpoll(t, source(t))
	testFront(t, f.addr, f.blocked)
}

func TestRawFront(t *testing.T) {
	m := source(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	accepting := make(chan struct{})
	go func() { acceptRaw(ctx, ln, m); close(accepting) }()
	t.Cleanup(func() { cancel(); ln.Close(); <-accepting })
	testFront(t, ln.Addr().String(), nil)
}

// testFront checks a front's answers; blocked, when not nil, counts the front's writes that found a socket full.
func testFront(t *testing.T, addr string, blocked func() int64) {
	c := dial(t, addr)

	if st, ct, body := c.get("/live.m3u8"); st != 200 || ct != "application/vnd.apple.mpegurl" || !bytes.Contains(body, []byte("\nv/720p30.m3u8\n")) {
		t.Fatalf("multivariant: %d %q %q", st, ct, body)
	}
	var hint []string
	for deadline := time.Now().Add(10 * time.Second); hint == nil; {
		if time.Now().After(deadline) {
			t.Fatal("no preload hint in the media playlist within 10 s")
		}
		_, _, body := c.get("/v/720p30.m3u8")
		if m := hintRE.FindSubmatch(body); m != nil && bytes.Contains(body, []byte("#EXT-X-PART:")) {
			hint = []string{string(m[1]), string(m[2])}
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	msn, part := hint[0], hint[1]
	partLine := fmt.Sprintf(`URI="720p30/%s.%s.ts"`, msn, part)

	// The hinted part is not published yet: the blocking reload is parked until it is, then lists it.
	st, _, body := c.get("/v/720p30.m3u8?_HLS_msn=" + msn + "&_HLS_part=" + part)
	if st != 200 || !bytes.Contains(body, []byte("#EXT-X-PART:")) || !bytes.Contains(body, []byte(partLine+"\n")) &&
		!bytes.Contains(body, []byte(partLine+",")) {
		t.Fatalf("blocking reload for %s.%s: %d\n%s", msn, part, st, body)
	}
	st, ct, data := c.get("/v/720p30/" + msn + "." + part + ".ts")
	if st != 200 || ct != "video/mp2t" || len(data) == 0 || len(data)%188 != 0 || data[0] != 0x47 {
		t.Fatalf("part %s.%s: %d %q, %d bytes", msn, part, st, ct, len(data))
	}
	if st, _, _ := c.get("/nope"); st != 404 {
		t.Fatalf("unknown path: %d, want 404", st)
	}
	if st, _, _ := c.get("/v/720p30/x.ts"); st != 404 {
		t.Fatalf("malformed part name: %d, want 404", st)
	}

	// Pipelined requests are answered in order.
	c.send("/live.m3u8", "/v/720p30/"+msn+"."+part+".ts", "/nope")
	for i, want := range []int{200, 200, 404} {
		if st, _, _ := c.read(); st != want {
			t.Fatalf("pipelined response %d: %d, want %d", i, st, want)
		}
	}

	// More responses than the sockets' buffers hold, to a client that does not read for a while: the front waits
	// for the socket to drain (EPOLLOUT) and loses nothing.
	slow := dial(t, addr)
	n := 16<<20/len(data) + 1
	targets := make([]string, n)
	for i := range targets {
		targets[i] = "/v/720p30/" + msn + "." + part + ".ts"
	}
	go slow.send(targets...)
	time.Sleep(300 * time.Millisecond)
	for i := range n {
		if st, _, got := slow.read(); st != 200 || !bytes.Equal(got, data) {
			t.Fatalf("response %d of %d to the slow reader: %d, %d bytes (want %d)", i, n, st, len(got), len(data))
		}
	}
	if blocked != nil && blocked() == 0 {
		t.Fatalf("%d responses of %d bytes to a reader that waited: no write found the socket full", n, len(data))
	}

	// Anything but a GET closes the connection.
	bad := dial(t, addr)
	io.WriteString(bad.c, "POST /live.m3u8 HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
	if b, err := io.ReadAll(bad.c); err != nil || len(b) != 0 {
		t.Fatalf("after a POST: %q, %v; want the connection closed with no answer", b, err)
	}
	// The first connection still works.
	if st, _, _ := c.get("/live.m3u8"); st != 200 {
		t.Fatalf("after the other connections: %d", st)
	}
}

func FuzzCutRequest(f *testing.F) {
	for _, s := range []string{
		"GET /live.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v/720p30.m3u8?_HLS_msn=3&_HLS_part=1 HTTP/1.1\r\n\r\nGET /live.m3u8 HTTP/1.1\r\n\r\n",
		"GET /live.m3u8 HTTP/1.1\r\nHost: x\r\n",
		"POST / HTTP/1.1\r\n\r\n",
		"GET  HTTP/1.1\r\n\r\n",
		"GET live HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/2\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		target, used, ok := cutRequest(b)
		end := bytes.Index(b, []byte("\r\n\r\n"))
		switch {
		case end < 0 && (used != 0 || ok):
			t.Fatalf("no head end, but used %d ok %v", used, ok)
		case end >= 0 && used != end+4:
			t.Fatalf("used %d, want %d", used, end+4)
		case ok && (!strings.HasPrefix(string(b), "GET /") || !strings.HasPrefix(target, "/") ||
			!bytes.Contains(b[:used], []byte(" "+target+" HTTP/1."))):
			t.Fatalf("accepted %q with target %q", b[:used], target)
		}
	})
}
