package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// A small HTTP/1.1 client: one keep-alive TCP connection, one request at a time, GET only. Each viewer owns one.
// net/http's client costs two goroutines per connection, channel hand-offs and header maps per request; with
// thousands of viewers sharing two cores with the server, that would be the load tool measuring itself. This one
// writes the request line and Host header, reads the status line, Content-Length / Transfer-Encoding: chunked /
// Connection: close, and the body (kept for playlists, counted and discarded for media).

type httpConn struct {
	addr    string // host:port to dial
	host    string // Host header
	timeout time.Duration

	c    net.Conn
	br   *bufio.Reader
	wbuf []byte

	dials int // connections opened (the first included)
}

// httpError is a response that is not 2xx.
type httpError struct{ status int }

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

var discardPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// get requests path (with its query) and returns the status and, when keep is not nil, the body appended to
// keep[:0]. n is the body's length. A non-2xx status is returned with an *httpError. On any transport error the
// connection is closed; the next get dials again.
func (h *httpConn) get(path string, keep []byte) (body []byte, n int64, err error) {
	if h.c == nil {
		c, err := net.DialTimeout("tcp", h.addr, h.timeout)
		if err != nil {
			return keep, 0, err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
		}
		h.c, h.br = c, bufio.NewReaderSize(c, 4096)
		h.dials++
	}
	h.c.SetDeadline(time.Now().Add(h.timeout))
	h.wbuf = append(h.wbuf[:0], "GET "...)
	h.wbuf = append(h.wbuf, path...)
	h.wbuf = append(h.wbuf, " HTTP/1.1\r\nHost: "...)
	h.wbuf = append(h.wbuf, h.host...)
	h.wbuf = append(h.wbuf, "\r\nUser-Agent: hlsload\r\nAccept: */*\r\n\r\n"...)
	if _, err := h.c.Write(h.wbuf); err != nil {
		h.close()
		return keep, 0, err
	}
	body, n, closeAfter, status, err := h.readResponse(keep)
	if err != nil {
		h.close()
		return body, n, err
	}
	if closeAfter {
		h.close()
	}
	if status < 200 || status > 299 {
		return body, n, &httpError{status}
	}
	return body, n, nil
}

func (h *httpConn) close() {
	if h.c != nil {
		h.c.Close()
		h.c, h.br = nil, nil
	}
}

func (h *httpConn) readResponse(keep []byte) (body []byte, n int64, closeAfter bool, status int, err error) {
	body = keep
	if body != nil {
		body = body[:0]
	}
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return body, 0, true, 0, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return body, 0, true, 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return body, 0, true, 0, fmt.Errorf("malformed status line %q", line)
	}
	closeAfter = line[7] == '0' // HTTP/1.0
	length := int64(-1)
	chunked := false
	for {
		line, err = h.br.ReadSlice('\n')
		if err != nil {
			return body, 0, true, status, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return body, 0, true, status, fmt.Errorf("bad Content-Length %q", value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			if bytes.EqualFold(value, []byte("close")) {
				closeAfter = true
			}
		}
	}
	switch {
	case status == 204 || status == 304 || (status >= 100 && status < 200):
		return body, 0, closeAfter, status, nil
	case chunked:
		for {
			line, err = h.br.ReadSlice('\n')
			if err != nil {
				return body, n, true, status, err
			}
			sz, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			size, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 64)
			if err != nil || size < 0 {
				return body, n, true, status, fmt.Errorf("bad chunk size %q", line)
			}
			if size == 0 {
				for { // trailers
					line, err = h.br.ReadSlice('\n')
					if err != nil {
						return body, n, true, status, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						return body, n, closeAfter, status, nil
					}
				}
			}
			if body, err = h.readBody(body, size); err != nil {
				return body, n, true, status, err
			}
			n += size
			if _, err = h.br.Discard(2); err != nil { // CRLF
				return body, n, true, status, err
			}
		}
	case length >= 0:
		body, err = h.readBody(body, length)
		return body, length, closeAfter, status, err
	default: // the body runs to the end of the connection
		for {
			before := len(body)
			var m int
			if body != nil {
				body, err = h.readBody(body, 32<<10)
				m = len(body) - before
			} else {
				bp := discardPool.Get().(*[]byte)
				m, err = io.ReadFull(h.br, *bp)
				discardPool.Put(bp)
			}
			n += int64(m)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return body, n, true, status, nil
			}
			if err != nil {
				return body, n, true, status, err
			}
		}
	}
}

// readBody reads size bytes: appended to body when it is not nil, discarded otherwise. With body not nil and an
// early EOF, what was read is kept.
func (h *httpConn) readBody(body []byte, size int64) ([]byte, error) {
	if body != nil {
		start := len(body)
		if cap(body)-start < int(size) {
			nb := make([]byte, start, start+int(size))
			copy(nb, body)
			body = nb
		}
		body = body[:start+int(size)]
		m, err := io.ReadFull(h.br, body[start:])
		return body[:start+m], err
	}
	// what bufio already holds, then straight from the socket without a copy
	k, err := h.br.Discard(int(min(size, int64(h.br.Buffered()))))
	size -= int64(k)
	if err != nil {
		return body, err
	}
	for size > 0 {
		n, ok, err := discardSocket(h.c, size)
		if !ok {
			break
		}
		if err != nil {
			return body, err
		}
		if n == 0 {
			return body, io.ErrUnexpectedEOF
		}
		size -= int64(n)
	}
	bp := discardPool.Get().(*[]byte)
	defer discardPool.Put(bp)
	buf := *bp
	for size > 0 {
		k := min(size, int64(len(buf)))
		if _, err := io.ReadFull(h.br, buf[:k]); err != nil {
			return body, err
		}
		size -= k
	}
	return body, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
