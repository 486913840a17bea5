package playback

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/httpfront"
)

// serveFront serves s's playback through httpfront on loopback, with its direct path (ServeDirect) counting the
// requests it answers in served, or without (served nil).
func serveFront(t *testing.T, s *Server, served *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := &httpfront.Server{Handler: s, Fallback: &http.Server{Handler: s}, Fast: func(method, path string) bool {
		return Owns(path) && !strings.Contains(path, "%")
	}}
	if served != nil {
		front.Direct = func(w *httpfront.Reply, r *httpfront.Request) bool {
			ok := s.ServeDirect(w, r)
			if ok {
				served.Add(1)
			}
			return ok
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); front.Serve(ln) }()
	t.Cleanup(func() { front.Close(); <-done })
	return ln.Addr().String()
}

// rawExchange sends raw on a new connection and returns the response, its header lines sorted and Date blanked.
func rawExchange(t *testing.T, addr, raw, method string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	var fields []string
	for k, vv := range resp.Header {
		if k == "Date" {
			vv = []string{"-"}
		}
		for _, v := range vv {
			fields = append(fields, k+": "+v)
		}
	}
	slices.Sort(fields)
	return resp.Status + "\n" + strings.Join(fields, "\n") + "\n" + strings.Join(resp.TransferEncoding, ",") + "\n\n" + string(body)
}

// TestServeDirectAsServeHTTP: every media request is answered by the direct path exactly as by ServeHTTP (status,
// header fields, framing, body), the common answers and the rarer ones it hands to Std (errors, byte ranges).
func TestServeDirectAsServeHTTP(t *testing.T) {
	for _, container := range []string{"TS", "FRAGMENTED_MP4"} {
		t.Run(container, func(t *testing.T) {
			s, _ := liveServer(t, container)
			var served atomic.Int64
			direct, std := serveFront(t, s, &served), serveFront(t, s, nil)
			var variant string
			for l := range strings.SplitSeq(get(t, s, "GET", playbackPath).Body.String(), "\n") {
				if strings.HasPrefix(l, "/v1/playlist/") {
					variant = l
				}
			}
			pl := get(t, s, "GET", variant).Body.Bytes()
			msn, _, err := preloadHint(pl)
			if err != nil {
				t.Fatal(err)
			}
			dir := variant[:strings.LastIndex(variant, "/")+1]
			tok := strings.Split(variant, "/")[3]
			ext := "ts"
			if container == "FRAGMENTED_MP4" {
				ext = "mp4"
			}
			done := msn - 1 // a complete segment
			cases := []struct{ method, target, fields string }{
				{"GET", variant, ""},
				{"HEAD", variant, ""},
				{"GET", variant + "?_HLS_skip=YES", ""},
				{"GET", variant + "?_HLS_msn=" + itoa(done) + "&_HLS_part=0", ""},
				{"GET", variant + "?_HLS_msn=" + itoa(done) + "&_HLS_part=0&_HLS_skip=YES", "Origin: https://x.example\r\n"},
				{"GET", variant + "?_HLS_msn=x", ""},
				{"GET", variant + "?_HLS_msn=" + itoa(msn+5), ""},
				{"GET", dir + "108p30/" + itoa(done) + ".0." + ext, ""},
				{"HEAD", dir + "108p30/" + itoa(done) + ".1." + ext, ""},
				{"GET", dir + "108p30/" + itoa(done) + "." + ext, ""},
				{"HEAD", dir + "108p30/" + itoa(done) + "." + ext, ""},
				{"GET", dir + "108p30/" + itoa(done) + "." + ext, "Range: bytes=10-99\r\n"},
				{"GET", dir + "108p30/" + itoa(done) + "." + ext, "range: bytes=999999999-\r\n"},
				{"GET", dir + "108p30/init.mp4", ""},
				{"GET", "/v1/segment/" + tok + "/108p30/" + itoa(done) + ".2." + ext, ""},
				{"GET", dir + "108p30/" + itoa(msn+9) + ".0." + ext, ""},
				{"GET", dir + "108p30/x." + ext, ""},
				{"GET", dir + "108p30/" + itoa(done) + ".0.zz", ""},
				{"GET", dir + "999p30/" + itoa(done) + ".0." + ext, ""},
				{"GET", dir + "nope.m3u8", ""},
				{"GET", "/v1/playlist/" + tampered(tok) + "/108p30.m3u8", ""},
				{"GET", "/v1/segment/" + tampered(tok) + "/108p30/" + itoa(done) + ".0." + ext, ""},
				{"GET", "/v1/playlist/x/y.m3u8", ""},
				{"GET", "/v1/segment/x", ""},
			}
			for _, tc := range cases {
				raw := tc.method + " " + tc.target + " HTTP/1.1\r\nHost: h\r\n" + tc.fields + "\r\n"
				got, want := rawExchange(t, direct, raw, tc.method), rawExchange(t, std, raw, tc.method)
				if got != want {
					t.Errorf("%s %s %q:\ndirect:\n%.600s\nServeHTTP:\n%.600s", tc.method, tc.target, tc.fields, got, want)
				}
			}
			if n := served.Load(); n != int64(len(cases)) {
				t.Errorf("the direct path answered %d of the %d requests", n, len(cases))
			}
		})
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestDirectSessionForgotten: a connection's requests find their session again without the look-up, but not once
// the session is forgotten (idle): the next request on the same connection is refused as the look-up would.
func TestDirectSessionForgotten(t *testing.T) {
	s, _ := liveServer(t, "TS")
	addr := serveFront(t, s, new(atomic.Int64))
	var variant string
	for l := range strings.SplitSeq(get(t, s, "GET", playbackPath).Body.String(), "\n") {
		if strings.HasPrefix(l, "/v1/playlist/") {
			variant = l
		}
	}
	tok := strings.Split(variant, "/")[3]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	status := func() int {
		t.Helper()
		if _, err := io.WriteString(c, "GET "+variant+" HTTP/1.1\r\nHost: h\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	for range 3 {
		if code := status(); code != 200 {
			t.Fatalf("playlist: %d", code)
		}
	}
	s.mu.RLock()
	ss := s.sessions[tok]
	s.mu.RUnlock()
	ss.lastSeen.Store(time.Now().Add(-sessionIdle - time.Minute).UnixNano())
	s.sweepOnce()
	if code := status(); code != http.StatusForbidden {
		t.Fatalf("a forgotten session's playlist on the same connection: %d, want 403", code)
	}
}
