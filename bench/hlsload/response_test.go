package main

import (
	"bytes"
	"strings"
	"testing"
)

type parsed struct {
	status     int
	body       string
	n          int64
	closeAfter bool
	done       bool
	used       int
	err        bool
}

// feedAll feeds raw to a response in pieces of at most step bytes (the way a socket hands them over), dropping
// skippable body bytes in place of reading them when skip is set, and ends with the connection's end when eof is
// set.
func feedAll(raw []byte, step int, keep, skip, eof bool) parsed {
	var r response
	r.reset(keep, []byte{})
	pending := []byte{}
	pos := 0
	for !r.done() && pos < len(raw) {
		if s := r.skippable(); skip && s > 0 && len(pending) == 0 {
			k := int(min(s, int64(len(raw)-pos), int64(step)))
			r.skipped(int64(k))
			pos += k
			continue
		}
		k := min(step, len(raw)-pos)
		pending = append(pending, raw[pos:pos+k]...)
		pos += k
		used, err := r.feed(pending)
		if err != nil {
			return parsed{err: true}
		}
		pending = pending[used:]
	}
	p := parsed{used: pos - len(pending)}
	if !r.done() && eof {
		if r.eof() != nil {
			return parsed{err: true}
		}
	}
	p.status, p.body, p.n, p.closeAfter, p.done = r.status, string(r.body), r.n, r.closeAfter, r.done()
	return p
}

func TestResponse(t *testing.T) {
	big := strings.Repeat("x", 70000)
	for _, c := range []struct {
		name, raw string
		eof       bool
		want      parsed
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: a/b\r\n\r\nhello", false,
			parsed{status: 200, body: "hello", n: 5, done: true}},
		{"length, odd case, big", "HTTP/1.1 200 OK\r\ncontent-LENGTH:  70000 \r\n\r\n" + big, false,
			parsed{status: 200, body: big, n: 70000, done: true}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nA;ext=1\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n", false,
			parsed{status: 200, body: "abc0123456789", n: 13, done: true}},
		{"to the end", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil eof", true,
			parsed{status: 200, body: "until eof", n: 9, closeAfter: true, done: true}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false,
			parsed{status: 200, body: "ok", n: 2, closeAfter: true, done: true}},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", false,
			parsed{status: 404, body: "not found", n: 9, done: true}},
		{"304 with a length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false,
			parsed{status: 304, done: true}},
		{"empty", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false,
			parsed{status: 200, closeAfter: true, done: true}},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", false, parsed{err: true}},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", false, parsed{err: true}},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, parsed{err: true}},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, parsed{err: true}},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true, parsed{err: true}},
	} {
		for _, step := range []int{1, 7, 1 << 20} {
			got := feedAll([]byte(c.raw), step, true, false, c.eof)
			if !c.want.err {
				c.want.used = len(c.raw)
			}
			if got != c.want {
				t.Errorf("%s, pieces of %d: got %+v, want %+v", c.name, step, got, c.want)
			}
			// media: the same, with body bytes dropped unseen wherever the response allows it
			if c.want.err {
				continue
			}
			dropped := feedAll([]byte(c.raw), step, false, true, c.eof)
			want := c.want
			want.body = ""
			if dropped != want {
				t.Errorf("%s, pieces of %d, body dropped: got %+v, want %+v", c.name, step, dropped, want)
			}
		}
	}
}

func TestResponseStopsAtItsEnd(t *testing.T) {
	var r response
	r.reset(true, nil)
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
	used, err := r.feed(raw)
	if err != nil || !r.done() || used != len(raw)-len("HTTP/1.1 200 OK\r\n") || string(r.body) != "ok" {
		t.Fatalf("used %d of %d, done %v, body %q, err %v", used, len(raw), r.done(), r.body, err)
	}
	var h response
	h.reset(false, nil)
	if _, err := h.feed(bytes.Repeat([]byte("a"), maxHead+1)); err == nil {
		t.Fatal("a head without end over maxHead was accepted")
	}
}

// FuzzResponse: any bytes, in any pieces, with or without dropping body bytes, give the same response as the bytes
// fed at once, and never a panic.
func FuzzResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nrest",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, raw []byte, step uint8) {
		whole := feedAll(raw, len(raw)+1, true, false, true)
		pieces := feedAll(raw, int(step)+1, true, false, true)
		if whole != pieces {
			t.Fatalf("whole %+v, in pieces of %d %+v", whole, int(step)+1, pieces)
		}
		if whole.err {
			return
		}
		dropped := feedAll(raw, int(step)+1, false, true, true)
		whole.body = ""
		if dropped != whole {
			t.Fatalf("kept %+v, dropped %+v", whole, dropped)
		}
	})
}
