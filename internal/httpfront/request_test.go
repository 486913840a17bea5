package httpfront

import (
	"bufio"
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

type ctxKey struct{}

var testBase = (&http.Request{RemoteAddr: "192.0.2.1:1234"}).WithContext(context.WithValue(context.Background(), ctxKey{}, "conn"))

// parseHead parses a request head (lines ending in CRLF, without the blank line) into a copy of base, as the
// front does (scanHead, then request).
func parseHead(head string, base *http.Request) (*http.Request, bool) {
	h, ok := scanHead(head)
	if !ok {
		return nil, false
	}
	return h.request(base), true
}

// sameAsReadRequest parses head (lines with CRLF, no blank line) with parseHead and, when it answers, checks that
// http.ReadRequest reads the same request from the same bytes.
func sameAsReadRequest(t *testing.T, head string) bool {
	t.Helper()
	fast, ok := parseHead(head, testBase)
	if !ok {
		return false
	}
	std, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\r\n")))
	if err != nil {
		t.Fatalf("parseHead took %q, http.ReadRequest refused it: %v", head, err)
	}
	if fast.Context() != testBase.Context() || fast.RemoteAddr != testBase.RemoteAddr {
		t.Fatalf("%q: the request does not carry the connection's context and address", head)
	}
	for _, f := range []struct {
		name      string
		fast, std any
	}{
		{"Method", fast.Method, std.Method}, {"URL", fast.URL, std.URL}, {"Proto", fast.Proto, std.Proto},
		{"ProtoMajor", fast.ProtoMajor, std.ProtoMajor}, {"ProtoMinor", fast.ProtoMinor, std.ProtoMinor},
		{"Header", fast.Header, std.Header}, {"Body", fast.Body, std.Body}, {"ContentLength", fast.ContentLength, std.ContentLength},
		{"TransferEncoding", fast.TransferEncoding, std.TransferEncoding}, {"Close", fast.Close, std.Close},
		{"Host", fast.Host, std.Host}, {"Trailer", fast.Trailer, std.Trailer}, {"RequestURI", fast.RequestURI, std.RequestURI},
		{"Form", fast.Form, std.Form}, {"TLS", fast.TLS, std.TLS}, {"Pattern", fast.Pattern, std.Pattern},
	} {
		if !reflect.DeepEqual(f.fast, f.std) {
			t.Fatalf("%q: %s: parseHead %#v, http.ReadRequest %#v", head, f.name, f.fast, f.std)
		}
	}
	return true
}

func TestParseHead(t *testing.T) {
	for _, head := range []string{
		"GET /v1/segment/tok/720p30/13.2.ts HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: hlsload\r\nAccept: */*\r\n",
		"GET /api/video/v1/us-west-2.123456789012.channel.abc.m3u8?token=eyJh.b-c_d&_HLS_msn=12&_HLS_part=3&_HLS_skip=YES HTTP/1.1\r\n" +
			"Host: localhost\r\nConnection: keep-alive\r\nsec-ch-ua-platform: \"Linux\"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131\r\n" +
			"Accept: */*\r\nOrigin: http://127.0.0.1:9000\r\nSec-Fetch-Mode: cors\r\nReferer: http://127.0.0.1:9000/\r\n" +
			"Accept-Encoding: gzip, deflate, br, zstd\r\naccept-language: en-US,en;q=0.9\r\n",
		"HEAD /a HTTP/1.0\r\nHost: h\r\n",
		"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n",
		"OPTIONS /a HTTP/1.1\r\nHost: h\r\nAccess-Control-Request-Method: GET\r\nOrigin: https://x.example\r\n",
		"GET /a? HTTP/1.1\r\nHost: h\r\n",
		"GET /a?? HTTP/1.1\r\nHost: h\r\n",
		"GET /a?b=%2F&c=%20 HTTP/1.1\r\nHost: h\r\n",
		"GET //double/slash/:@;=,+$&~ HTTP/1.1\r\nHost: h\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nX-Many: 1\r\nx-many: 2\r\nX-MANY:3\r\nX-Empty:\r\nX-Tabs:\t v \t\r\nX-Obs: caf\xc3\xa9\r\n",
		"GET /a HTTP/1.1\r\n", // no Host: read as ReadRequest does; refusing it is serveRequest's business
	} {
		if !sameAsReadRequest(t, head) {
			t.Errorf("parseHead did not take %q", head)
		}
	}
	for _, head := range []string{
		"GET /a HTTP/1.1\nHost: h\n",                          // bare LF
		"GET /a HTTP/1.1\r\nHost: h\r\n folded\r\n",           // obs-fold
		"GET /a HTTP/1.1\r\n Host: h\r\n",                     // leading space
		"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n", // a body's headers
		"GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nTrailer: X\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n", // ReadRequest adds Cache-Control
		"GET /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n", // ReadRequest removes it
		"GET /a HTTP/1.1\r\nHost: h\r\nHost: i\r\n",
		"GET /a%2Fb HTTP/1.1\r\nHost: h\r\n", // escaped
		"GET /a(b) HTTP/1.1\r\nHost: h\r\n",  // escaped by url
		"GET /a#f HTTP/1.1\r\nHost: h\r\n",
		"GET /a?\x7f HTTP/1.1\r\nHost: h\r\n",
		"GET http://h/a HTTP/1.1\r\nHost: h\r\n", // absolute form
		"GET * HTTP/1.1\r\nHost: h\r\n",
		"POST /a HTTP/1.1\r\nHost: h\r\n",
		"GET /a HTTP/2.0\r\nHost: h\r\n",
		"GET  /a HTTP/1.1\r\nHost: h\r\n",
		"GET /a HTTP/1.1\r\nHost h\r\n",
		"GET /a HTTP/1.1\r\nBad Name: v\r\n",
		"GET /a HTTP/1.1\r\nX: a\x01b\r\n",
		"GET /a HTTP/1.1\r\nX: a\rb\r\n",
		"GET /a HTTP/1.1\r\n\r\n", // an empty line inside the head
	} {
		if _, ok := parseHead(head, testBase); ok {
			t.Errorf("parseHead took %q", head)
		}
	}
}

// TestParseRequestConsumes: the head's length counts its blank line, and the next request is left; an incomplete
// head is left whole for http.ReadRequest.
func TestParseRequestConsumes(t *testing.T) {
	c := &conn{}
	c.br = bufio.NewReader(strings.NewReader("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n"))
	c.br.Peek(1)
	n, ok := c.parseRequest()
	if !ok || c.head.path != "/a" || n != len("GET /a HTTP/1.1\r\nHost: h\r\n\r\n") {
		t.Fatalf("first request: %v %d %+v", ok, n, c.head)
	}
	c.br.Discard(n)
	if _, ok := c.parseRequest(); ok {
		t.Fatal("an incomplete head was parsed")
	}
	if rest, _ := c.br.Peek(c.br.Buffered()); string(rest) != "GET /b HTTP/1.1\r\nHost: h\r\n" {
		t.Fatalf("left %q", rest)
	}
}

// FuzzParseHead: whenever parseHead answers, http.ReadRequest reads the same request from the same bytes.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET /v1/segment/tok/720p30/13.2.ts HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: hlsload\r\nAccept: */*\r\n",
		"GET /a.m3u8?_HLS_msn=1&_HLS_part=2 HTTP/1.0\r\nconnection: keep-alive\r\norigin: http://x\r\n",
		"HEAD /a? HTTP/1.1\r\nHost: h\r\nX: \t\r\nX: y\r\n",
		"OPTIONS /a/b;c=d HTTP/1.1\r\nHost: [::1]:80\r\nAccess-Control-Request-Headers: range\r\n",
		"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		sameAsReadRequest(t, head)
	})
}

func BenchmarkParseHead(b *testing.B) {
	head := "GET /v1/segment/eyJhbGciOiJFUzM4NCJ9.eyJzIjoxfQ.sig/720p30/13.2.ts HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
		"User-Agent: hlsload\r\nAccept: */*\r\n"
	b.Run("parseHead", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseHead(head, testBase); !ok {
				b.Fatal("not parsed")
			}
		}
	})
	b.Run("ReadRequest", func(b *testing.B) {
		b.ReportAllocs()
		r := strings.NewReader("")
		br := bufio.NewReader(r)
		for b.Loop() {
			r.Reset(head + "\r\n")
			br.Reset(r)
			req, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			req.WithContext(testBase.Context())
		}
	})
}
