package httpfront

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Direct requests: the front's leanest path, for the requests a server answers by the ten thousand a second
// (LL-HLS parts and blocking playlist reloads). Server.Direct gets the request as the one-pass parser cut it
// (Request: method, path, query, fields looked up in the head's text) and answers with Reply: the header fields
// the handler adds, then Send, which writes the status line, those fields, Content-Length, Date and the body with
// one writev. No header map is made for the request or the response, and nothing is allocated. For anything else
// (a streamed body, byte ranges, an error page written by shared code) the handler takes Reply.Std, the
// connection's ordinary ResponseWriter, with Request.HTTP, the http.Request Handler would have got.
//
// Why: with 5,000 LL-HLS viewers on two cores, the request's and the response's header maps (made, filled,
// cleared, iterated), the response head's framing decisions and the allocations behind them were ≈6-11 µs of the
// server's ≈35 µs per request above a bare keep-alive loop serving the same muxer (bench/README.md, fan-out).

// Request is a direct request. It and its strings are valid during the Direct call only (the strings are parts
// of the head's text, which the next request replaces).
type Request struct {
	Method   string // GET or HEAD
	Path     string // the target's path, as sent: it needs no unescaping (it is r.URL.Path of Request.HTTP)
	RawQuery string

	c   *conn
	h   *reqHead
	req *http.Request // made by HTTP
}

// Context is the request's context: the connection's (see the package doc).
func (r *Request) Context() context.Context { return r.c.ctx }

// Header returns the value of the request's first field named key (any case), as http.Header.Get; "Host" too.
func (r *Request) Header(key string) string {
	for rest := r.h.fields; rest != ""; {
		line, next, _ := cutLine(rest)
		rest = next
		if k, v, _ := cut(line, ':'); len(k) == len(key) && strings.EqualFold(k, key) {
			return trimOWS(v)
		}
	}
	return ""
}

// HTTP returns the request as the http.Request Handler would have got (made at the first call).
func (r *Request) HTTP() *http.Request {
	if r.req == nil {
		r.req = r.h.request(r.c.base)
	}
	return r.req
}

// ConnValue returns what SetConnValue kept with the request's connection (nil at first).
func (r *Request) ConnValue() any { return r.c.value }

// SetConnValue keeps v with the request's connection, for the Direct calls of its next requests: what a handler
// looked up for this request, found again without looking.
func (r *Request) SetConnValue(v any) { r.c.value = v }

// Reply is a direct request's response.
type Reply struct {
	c      *conn
	r      *Request
	fields []byte // added by Field
	std    bool   // Std was called: the response is c.res's
	sent   bool
	close  bool // the connection ends after this response
	iov    [8][]byte
	bufs   net.Buffers
}

// Field adds a header field to the response Send sends (line breaks in the value become spaces, as in net/http).
// Content-Length and Date are Send's own.
func (w *Reply) Field(name, value string) { w.fields = appendField(w.fields, name, value) }

// Send sends the response: the status line, the fields added, Content-Length (of the body: body's slices, one
// after the other), Date, and the body unless the request is HEAD or the status has none, in one writev. Call it
// once, not after Std. It returns the connection's error, if any (the connection then ends).
func (w *Reply) Send(status int, body ...[]byte) error {
	if w.sent || w.std {
		panic("httpfront: Reply.Send after Send or Std")
	}
	w.sent = true
	c := w.c
	b := appendStatusLine(c.res.head[:0], true, status)
	b = append(b, w.fields...)
	bodyOK := bodyAllowedForStatus(status)
	if bodyOK {
		n := 0
		for _, p := range body {
			n += len(p)
		}
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Date: "...)
	b = c.s.appendDate(b, time.Now())
	b = append(b, "\r\n"...)
	if c.s.closing.Load() {
		b = append(b, "Connection: close\r\n"...)
		w.close = true
	}
	b = append(b, "\r\n"...)
	c.res.head = b
	iov := append(w.iov[:0], b)
	if bodyOK && w.r.Method != http.MethodHead {
		for _, p := range body {
			if len(p) > 0 {
				iov = append(iov, p)
			}
		}
	}
	w.bufs = iov
	_, err := w.bufs.WriteTo(c.rwc)
	clear(w.iov[:])
	if err != nil {
		w.close = true
	}
	return err
}

// Std returns the connection's ResponseWriter, for this request (with Request.HTTP), for the answers Send does
// not make; the fields added are not part of it. Call it before Send, or not at all.
func (w *Reply) Std() http.ResponseWriter {
	if w.sent {
		panic("httpfront: Reply.Std after Send")
	}
	if !w.std {
		w.std = true
		req := w.r.HTTP()
		w.c.res.reset(req)
		w.c.res.body = req.Body
	}
	return &w.c.res
}

// serveDirect offers a plain request to Server.Direct: served tells whether it answered (else c.dreq.req is the
// http.Request it made, if any), keep whether the connection carries on.
func (c *conn) serveDirect() (served, keep bool) {
	r, w, h := &c.dreq, &c.drep, &c.head
	r.Method, r.Path, r.RawQuery, r.h, r.req = h.method, h.path, h.query, h, nil
	w.fields, w.std, w.sent, w.close = w.fields[:0], false, false, false
	if !c.s.Direct(w, r) && !w.std && !w.sent {
		return false, false
	}
	switch {
	case w.std:
		c.res.finish()
		return true, c.res.reusable()
	case !w.sent:
		w.Send(http.StatusOK) // nothing written: an empty 200, as a handler that writes nothing gets
	}
	return true, !w.close
}
