package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// response reads one HTTP/1.x response incrementally, from whatever bytes the socket has: feed it the bytes read,
// ask it how many body bytes may be dropped straight from the socket (skippable), and it says when the response is
// complete. The body is appended to body when keep is set (playlists), otherwise only counted (media).
type response struct {
	phase      int
	keep       bool
	body       []byte
	n          int64 // body bytes so far
	status     int
	closeAfter bool  // the connection ends with this response
	left       int64 // bytes left in the body (phaseLength) or in the current chunk (phaseChunk)
}

const (
	phaseHead      = iota
	phaseLength    // a Content-Length body
	phaseChunkSize // a chunk-size line
	phaseChunk     // chunk data
	phaseChunkEnd  // the CRLF after chunk data
	phaseTrailer   // trailer lines up to the empty one
	phaseToEOF     // a body delimited by the connection's end
	phaseDone
)

// maxHead is the longest response head accepted.
const maxHead = 8 << 10

var errMalformed = errors.New("malformed response")

func (r *response) reset(keep bool, body []byte) {
	if body != nil {
		body = body[:0]
	}
	*r = response{keep: keep, body: body}
}

func (r *response) done() bool { return r.phase == phaseDone }

// skippable is how many of the next bytes on the socket are body bytes that may be dropped unseen.
func (r *response) skippable() int64 {
	if r.keep || (r.phase != phaseLength && r.phase != phaseChunk) {
		return 0
	}
	return r.left
}

// skipped counts body bytes dropped from the socket (at most skippable()).
func (r *response) skipped(n int64) {
	r.n += n
	r.left -= n
	if r.left == 0 {
		if r.phase == phaseLength {
			r.phase = phaseDone
		} else {
			r.phase = phaseChunkEnd
		}
	}
}

// feed consumes what it can of b and returns how many bytes it used. It stops at the end of the response: bytes
// after it are not consumed. A head that is not complete yet is left unconsumed (used 0) until more bytes come.
func (r *response) feed(b []byte) (used int, err error) {
	for used < len(b) && r.phase != phaseDone {
		rest := b[used:]
		switch r.phase {
		case phaseHead:
			end := bytes.Index(rest, []byte("\r\n\r\n"))
			if end+4 > maxHead || (end < 0 && len(rest) >= maxHead) {
				return used, fmt.Errorf("response head over %d bytes", maxHead)
			}
			if end < 0 {
				return used, nil
			}
			if err := r.head(rest[:end+2]); err != nil {
				return used, err
			}
			used += end + 4
		case phaseLength, phaseChunk:
			k := int(min(r.left, int64(len(rest))))
			if r.keep {
				r.body = append(r.body, rest[:k]...)
			}
			used += k
			r.skipped(int64(k))
		case phaseToEOF:
			if r.keep {
				r.body = append(r.body, rest...)
			}
			r.n += int64(len(rest))
			used = len(b)
		case phaseChunkSize, phaseChunkEnd, phaseTrailer:
			i := bytes.IndexByte(rest, '\n')
			if i+1 > maxHead || (i < 0 && len(rest) >= maxHead) {
				return used, fmt.Errorf("%w: a line over %d bytes", errMalformed, maxHead)
			}
			if i < 0 {
				return used, nil
			}
			line := bytes.TrimRight(rest[:i], "\r")
			used += i + 1
			switch r.phase {
			case phaseChunkEnd:
				if len(line) != 0 {
					return used, fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
				}
				r.phase = phaseChunkSize
			case phaseTrailer:
				if len(line) == 0 {
					r.phase = phaseDone
				}
			default:
				sz, _, _ := bytes.Cut(line, []byte(";"))
				size, err := strconv.ParseInt(string(bytes.TrimSpace(sz)), 16, 64)
				if err != nil || size < 0 {
					return used, fmt.Errorf("%w: chunk size %q", errMalformed, line)
				}
				if size == 0 {
					r.phase = phaseTrailer
				} else {
					r.phase, r.left = phaseChunk, size
				}
			}
		}
	}
	return used, nil
}

// eof tells the response its connection ended; it is an error unless the body runs to the connection's end.
func (r *response) eof() error {
	if r.phase == phaseToEOF {
		r.phase = phaseDone
		r.closeAfter = true
		return nil
	}
	if r.phase == phaseDone {
		return nil
	}
	return errUnexpectedEOF
}

var errUnexpectedEOF = errors.New("connection closed before the response ended")

// head parses the status line and the headers (head ends with the last header's CRLF).
func (r *response) head(head []byte) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	r.status = status
	r.closeAfter = line[7] == '0' // HTTP/1.0
	length := int64(-1)
	chunked := false
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			if bytes.EqualFold(value, []byte("close")) {
				r.closeAfter = true
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		r.phase = phaseDone
	case chunked:
		r.phase = phaseChunkSize
	case length == 0:
		r.phase = phaseDone
	case length > 0:
		r.phase, r.left = phaseLength, length
	default:
		r.phase = phaseToEOF
	}
	return nil
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

// httpError is a response with a status other than 2xx.
type httpError struct{ status int }

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.status) }
