package httpfront

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// parseRequest is the fast path of reading a request: the common, plain case of a request head already in the
// buffer, read in one pass (scanHead) into a head whose http.Request, made by request, is the one
// http.ReadRequest would have made, with two allocations (the request, one string holding the head's text) plus
// the header map. It is deliberately narrow: anything it is not sure of (a head not yet complete, bare LF line
// ends, folded lines, a request body or its headers, Pragma, Trailer, Expect, Connection: close, several Host
// fields, an escaped or unusual target, any byte http.ReadRequest would refuse) makes it answer ok = false having
// read nothing, and the caller reads the request with http.ReadRequest as before, errors and all.
// FuzzParseHead checks that whenever it answers, http.ReadRequest reads the same bytes into the same request.
//
// Why: http.ReadRequest and its textproto reader were ≈8 % of the server's CPU with 5,000 LL-HLS viewers (bench
// README, fan-out, fifth), for requests that are nearly always a GET line and three or four short fields.
//
// It reads the head into c.head, and tells how long it is in c.br (blank line included): the caller discards that
// much once it takes the request. A direct request (direct.go) is served from the head as it is: its http.Request
// is made only if the handler asks for it.
func (c *conn) parseRequest() (n int, ok bool) {
	buf, _ := c.br.Peek(c.br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return 0, false
	}
	if c.head, ok = scanHead(string(buf[:end+2])); !ok { // the request line and the fields, each with its CRLF
		return 0, false
	}
	return end + 4, true
}

// reqHead is a plain request's head, checked by scanHead: the strings are parts of the head's text.
type reqHead struct {
	method, target, proto string
	minor                 int    // HTTP/1.<minor>
	path, query           string // the target's, as sent (they need no unescaping)
	forceQuery            bool   // a '?' with nothing after it
	fields                string // the field lines, each with its CRLF
	n                     int    // how many
	host                  string // the Host field's value
	hasHost               bool
}

// scanHead checks a request head (lines ending in CRLF, without the blank line) and cuts it into its parts,
// without allocating.
func scanHead(head string) (h reqHead, ok bool) {
	line, rest, ok := cutLine(head)
	if !ok {
		return h, false
	}
	// "GET /target HTTP/1.1": one space each side of the target
	m, after, ok1 := cut(line, ' ')
	target, proto, ok2 := cut(after, ' ')
	if !ok1 || !ok2 || len(target) == 0 || target[0] != '/' {
		return h, false
	}
	switch proto {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
	default:
		return h, false
	}
	if h.method = internMethod(m); h.method == "" { // methods that carry no body
		return h, false
	}
	h.target, h.proto = target, proto
	path, query, hasQuery := cut(target, '?')
	for i := 0; i < len(path); i++ {
		if !pathOK[path[i]] {
			return h, false
		}
	}
	for i := 0; i < len(query); i++ {
		if !queryOK[query[i]] {
			return h, false
		}
	}
	h.path, h.query, h.forceQuery = path, query, hasQuery && query == ""
	h.fields = rest
	for len(rest) > 0 {
		if line, rest, ok = cutLine(rest); !ok || line == "" {
			return h, false
		}
		k, v, found := cut(line, ':')
		if !found || !httpguts.ValidHeaderFieldName(k) {
			return h, false
		}
		for i := 0; i < len(v); i++ {
			if !valueOK[v[i]] {
				return h, false
			}
		}
		h.n++
		switch {
		case len(k) > len("Transfer-Encoding"): // longer than the names below
		case strings.EqualFold(k, "Host"):
			if h.hasHost {
				return h, false
			}
			h.host, h.hasHost = trimOWS(v), true
		case strings.EqualFold(k, "Connection"):
			if httpguts.HeaderValuesContainsToken([]string{v}, "close") {
				return h, false // http.ReadRequest removes the field from the header of an HTTP/1.1 request
			}
		case strings.EqualFold(k, "Content-Length"), strings.EqualFold(k, "Transfer-Encoding"), strings.EqualFold(k, "Trailer"),
			strings.EqualFold(k, "Pragma"), strings.EqualFold(k, "Expect"):
			return h, false
		}
	}
	return h, true
}

// request makes the http.Request of the head, a copy of base.
func (h *reqHead) request(base *http.Request) *http.Request {
	// the map and the values' backing array made once
	hdr := make(http.Header, h.n)
	strs := make([]string, h.n)
	for rest := h.fields; len(rest) > 0; {
		line, r, _ := cutLine(rest)
		rest = r
		k, v, _ := cut(line, ':')
		key := canonicalKey(k)
		if key == "Host" {
			continue // as http.ReadRequest: in req.Host
		}
		v = trimOWS(v)
		if vv, seen := hdr[key]; seen {
			hdr[key] = append(vv, v)
		} else {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = v
			hdr[key] = vv
		}
	}
	u := &url.URL{Path: h.path, RawQuery: h.query, ForceQuery: h.forceQuery}
	req := new(http.Request)
	*req = *base
	req.Method, req.URL, req.RequestURI = h.method, u, h.target
	req.Proto, req.ProtoMajor, req.ProtoMinor = h.proto, 1, h.minor
	req.Header = hdr
	req.Body, req.ContentLength = http.NoBody, 0
	req.Host = h.host
	req.Close = h.minor == 0 && !httpguts.HeaderValuesContainsToken(hdr["Connection"], "keep-alive")
	return req
}

// internMethod is GET, HEAD or OPTIONS as the constant (no allocation for a method read from the wire), "" for
// any other method.
func internMethod(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodOptions:
		return http.MethodOptions
	}
	return ""
}

// Byte classes, as tables (a target is a few hundred bytes: a token and a path).
var (
	// pathOK: the bytes a path keeps as they are in url.URL.Path and EscapedPath: unreserved, the sub-delims url
	// does not escape ('!', '\'', '(', ')', '*' it does), ':' and '@'.
	pathOK [256]bool
	// queryOK: visible ASCII but '#' (url.ParseRequestURI keeps a query as it is; control bytes it refuses).
	queryOK [256]bool
	// valueOK: the field-value bytes textproto accepts: HTAB, SP, visible ASCII, obs-text.
	valueOK [256]bool
)

func init() {
	for c := range 256 {
		b := byte(c)
		pathOK[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("-_.~$&+,/:;=@", b) >= 0
		queryOK[c] = b > ' ' && b < 0x7f && b != '#'
		valueOK[c] = b == '\t' || (b >= ' ' && b != 0x7f)
	}
}

func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey, without allocating when k is canonical already.
func canonicalKey(k string) string {
	upper := true
	for i := 0; i < len(k); i++ {
		c := k[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return textproto.CanonicalMIMEHeaderKey(k)
		}
		upper = c == '-'
	}
	return k
}

// cutLine cuts s after its first CRLF; a bare CR or LF in the line is not ok.
func cutLine(s string) (line, rest string, ok bool) {
	i := strings.IndexByte(s, '\n')
	if i < 1 || s[i-1] != '\r' || strings.IndexByte(s[:i-1], '\r') >= 0 {
		return "", "", false
	}
	return s[:i-1], s[i+1:], true
}

func cut(s string, sep byte) (before, after string, found bool) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
