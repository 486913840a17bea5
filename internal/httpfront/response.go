package httpfront

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// pendSize is how many body bytes a response holds before sending: a body that fits, written before the handler
// returns, gets a Content-Length; a larger one without a declared length is sent chunked (HTTP/1.1).
const pendSize = 4 << 10

// response is the front's http.ResponseWriter, one per connection, reused. It holds the head and small writes, and
// sends them with the next large write (or at a Flush, or the end) in one writev; a large write is never copied.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	body   io.ReadCloser   // the request's body, as the handler got it first
	cont   *continueReader // the body when the client expects 100 Continue

	status        int
	contentLength int64 // declared (or computed) Content-Length; -1: none
	written       int64 // body bytes the handler wrote
	wroteHeader   bool
	headSent      bool
	chunked       bool
	closeAfter    bool // the connection ends after this response
	isHEAD        bool
	wantsClose    bool // read from the request before the handler (which may change it)
	wants10Keep   bool
	werr          error

	pend []byte // body bytes held (counted in written)
	head []byte // the head being sent, and a chunk's size line
	tail [7]byte
	iov  [4][]byte
	bufs net.Buffers // over iov: a writev without allocating
}

func (w *response) reset(req *http.Request) {
	clear(w.header)
	w.req, w.cont = req, nil
	w.status, w.contentLength, w.written = 0, -1, 0
	w.wroteHeader, w.headSent, w.chunked, w.closeAfter, w.werr = false, false, false, false, nil
	w.isHEAD = req.Method == http.MethodHead
	conn := req.Header["Connection"]
	w.wantsClose = req.Close || httpguts.HeaderValuesContainsToken(conn, "close")
	w.wants10Keep = !req.ProtoAtLeast(1, 1) && req.ProtoAtLeast(1, 0) && httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	if w.pend == nil {
		w.pend = make([]byte, 0, pendSize)
	}
	w.pend = w.pend[:0]
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.s.log().Warn("httpfront: superfluous WriteHeader", "code", code, "path", w.req.URL.Path)
		return
	}
	if code < 100 || code > 999 {
		panic("httpfront: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // informational responses are not sent (see the package doc)
	}
	w.wroteHeader, w.status = true, code
	if v := w.header["Content-Length"]; len(v) > 0 && v[0] != "" {
		cl := v[0]
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.s.log().Warn("httpfront: invalid Content-Length", "value", cl, "path", w.req.URL.Path)
			w.header.Del("Content-Length")
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.werr != nil {
		return 0, w.werr
	}
	if w.headSent && w.isHEAD {
		return len(p), nil
	}
	if len(w.pend)+len(p) <= cap(w.pend) {
		w.pend = append(w.pend, p...)
		return len(p), nil
	}
	if err := w.send(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush sends the head and what is held.
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush, telling whether the connection took it (http.ResponseController uses it).
func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(nil, false)
}

// finish ends the response after the handler returned.
func (w *response) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.send(nil, true)
	if w.cont != nil && !w.cont.eof {
		w.closeAfter = true // the rest of the body would be read as the next request
	}
}

// reusable tells whether the connection can carry the next request.
func (w *response) reusable() bool {
	if w.closeAfter || w.werr != nil {
		return false
	}
	// a body shorter than declared: the client would read the next response as its end
	return w.isHEAD || w.contentLength == -1 || !bodyAllowedForStatus(w.status) || w.written == w.contentLength
}

// send writes the head (when not sent yet), what is held, and p, in one writev; final ends the response.
func (w *response) send(p []byte, final bool) error {
	if w.werr != nil {
		return w.werr
	}
	h := w.head[:0]
	if !w.headSent {
		h = w.appendHead(h, p, final)
		w.headSent = true
	}
	body := !w.isHEAD && bodyAllowedForStatus(w.status)
	n := 0
	if body {
		n = len(w.pend) + len(p)
	}
	if w.chunked && n > 0 {
		h = strconv.AppendInt(h, int64(n), 16)
		h = append(h, "\r\n"...)
	}
	w.head = h
	t := w.tail[:0]
	if w.chunked && n > 0 {
		t = append(t, "\r\n"...)
	}
	if w.chunked && final {
		t = append(t, "0\r\n\r\n"...)
	}
	iov := w.iov[:0]
	if len(h) > 0 {
		iov = append(iov, h)
	}
	if body && len(w.pend) > 0 {
		iov = append(iov, w.pend)
	}
	if body && len(p) > 0 {
		iov = append(iov, p)
	}
	if len(t) > 0 {
		iov = append(iov, t)
	}
	w.pend = w.pend[:0]
	if len(iov) == 0 {
		return nil
	}
	w.bufs = iov
	_, err := w.bufs.WriteTo(w.c.rwc)
	clear(w.iov[:])
	if err != nil {
		w.werr, w.closeAfter = err, true
	}
	return err
}

// appendHead appends the status line and header fields, deciding the body's framing as net/http does
// (chunkWriter.writeHeader): p is the first body data (for sniffing), final tells that the handler is done. The
// handler's header map is read once and left as it is.
func (w *response) appendHead(b []byte, p []byte, final bool) []byte {
	code, req := w.status, w.req
	b = appendStatusLine(b, req.ProtoAtLeast(1, 1), code)

	// the fields that decide the framing are kept aside, the others written as they are
	var cl, conn, ctype, te []string
	var hasConn, hasType, hasCE, hasDate bool
	for k, vv := range w.header {
		switch k {
		case "Content-Length":
			cl = vv
			continue
		case "Transfer-Encoding":
			te = vv
			continue
		case "Connection":
			conn, hasConn = vv, true
			continue
		case "Content-Type":
			ctype, hasType = vv, true
			continue
		case "Content-Encoding":
			hasCE = len(vv) > 0 && vv[0] != ""
		case "Date":
			hasDate = true
		}
		if !httpguts.ValidHeaderFieldName(k) {
			continue // as net/http: dropped, the handler has no way to hear of it
		}
		for _, v := range vv {
			b = appendField(b, k, v)
		}
	}
	te0 := ""
	if len(te) > 0 {
		te0 = te[0]
	}
	hasTE := te0 != ""
	bodyOK := bodyAllowedForStatus(code)
	keepCL, keepTE, keepType := len(cl) > 0 && bodyOK, false, bodyOK || code != http.StatusNotModified
	var extraCL, extraConn, extraTE, extraType string
	// a handler done before filling the buffer: its length is known (HEAD: unless it wrote nothing)
	if final && !hasTE && bodyOK && cl == nil && (!w.isHEAD || w.written > 0) {
		w.contentLength = w.written
		extraCL = strconv.FormatInt(w.written, 10)
	}
	keepAlives := !w.c.s.closing.Load()
	hasCL := w.contentLength != -1
	if w.wants10Keep && (w.isHEAD || hasCL || !bodyOK) {
		if !hasConn {
			extraConn = "keep-alive"
		}
	} else if !req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfter = true
	}
	if (len(conn) > 0 && conn[0] == "close") || !keepAlives {
		w.closeAfter = true
	}
	if w.cont != nil && !w.cont.eof {
		w.closeAfter = true // the body may still be coming: do not read it as the next request
	}
	keepConn := true
	if req.ContentLength != 0 && !w.closeAfter {
		switch _, err := io.CopyN(io.Discard, w.body, maxDrain+1); err {
		case io.EOF, http.ErrBodyReadAfterClose:
		case nil: // more than maxDrain left
			w.closeAfter, w.c.linger = true, true
			keepConn, extraConn = false, "close"
		default:
			w.closeAfter = true
		}
	}
	if bodyOK && !hasType && !hasTE && !hasCE {
		if sniff := w.sniffData(p); len(sniff) > 0 {
			extraType = http.DetectContentType(sniff)
		}
	}
	if hasCL && hasTE && te0 != "identity" {
		w.c.s.log().Warn("httpfront: both Transfer-Encoding and Content-Length set; Content-Length ignored", "path", req.URL.Path)
		keepCL, hasCL, w.contentLength = false, false, -1
	}
	switch {
	case w.isHEAD || !bodyOK || code == http.StatusNoContent, hasCL:
	case req.ProtoAtLeast(1, 1):
		if te0 == "identity" {
			w.closeAfter = true
		} else {
			w.chunked, extraTE = true, "chunked"
			keepTE, keepCL = hasTE && te0 != "chunked", false // a coding of the handler's own, then ours
		}
	default: // HTTP/1.0 without a length: the body ends with the connection
		w.closeAfter = true
	}
	if w.closeAfter && (!keepAlives || !httpguts.HeaderValuesContainsToken(conn, "close")) {
		keepConn = false
		if req.ProtoAtLeast(1, 1) {
			extraConn = "close"
		}
	}

	for _, f := range [...]struct {
		k    string
		vv   []string
		keep bool
	}{{"Content-Length", cl, keepCL}, {"Transfer-Encoding", te, keepTE}, {"Connection", conn, keepConn}, {"Content-Type", ctype, keepType}} {
		if f.keep {
			for _, v := range f.vv {
				b = appendField(b, f.k, v)
			}
		}
	}
	for _, f := range [...]struct{ k, v string }{{"Content-Type", extraType}, {"Connection", extraConn},
		{"Transfer-Encoding", extraTE}, {"Content-Length", extraCL}} {
		if f.v != "" {
			b = appendField(b, f.k, f.v)
		}
	}
	if !hasDate {
		b = append(b, "Date: "...)
		b = w.c.s.appendDate(b, time.Now())
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendStatusLine appends "HTTP/1.x <code> <text>\r\n".
func appendStatusLine(b []byte, http11 bool, code int) []byte {
	if http11 && code == http.StatusOK {
		return append(b, "HTTP/1.1 200 OK\r\n"...)
	}
	if http11 {
		b = append(b, "HTTP/1.1 "...)
	} else {
		b = append(b, "HTTP/1.0 "...)
	}
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		b = append(b, text...)
	} else {
		b = append(b, "status code "...)
		b = strconv.AppendInt(b, int64(code), 10)
	}
	return append(b, "\r\n"...)
}

// sniffData is the start of the body for Content-Type sniffing: what is held, else p.
func (w *response) sniffData(p []byte) []byte {
	if len(w.pend) > 0 {
		return w.pend
	}
	return p
}

// appendField appends "k: v\r\n", v with its line breaks made spaces and trimmed, as net/http writes fields.
func appendField(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	if v != "" && (isSpace(v[0]) || isSpace(v[len(v)-1])) {
		v = strings.Trim(v, " \t\r\n")
	}
	if strings.IndexByte(v, '\r') >= 0 || strings.IndexByte(v, '\n') >= 0 {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == '\r' || c == '\n' {
				b = append(b, ' ')
			} else {
				b = append(b, c)
			}
		}
	} else {
		b = append(b, v...)
	}
	return append(b, "\r\n"...)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func bodyAllowedForStatus(status int) bool {
	return !(status >= 100 && status <= 199) && status != http.StatusNoContent && status != http.StatusNotModified
}

// continueReader is a request body the client sends after a 100 Continue: asked for at the first read.
type continueReader struct {
	w    *response
	rc   io.ReadCloser
	sent bool // 100 Continue sent, or the response started: the client sends the body either way
	eof  bool
}

func (r *continueReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		if !r.w.headSent {
			if _, err := io.WriteString(r.w.c.rwc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
				return 0, err
			}
		}
	}
	n, err := r.rc.Read(p)
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

func (r *continueReader) Close() error { return r.rc.Close() }
