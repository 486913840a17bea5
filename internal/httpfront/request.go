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
// buffer, parsed from it in one pass into the http.Request that http.ReadRequest would have made, with two
// allocations (the request, one string holding the head's text) plus the header map. It is deliberately
// narrow: anything it is not sure of (a head not yet complete, bare LF line ends, folded lines, a request body or
// its headers, Pragma, Trailer, Expect, Connection: close, several Host fields, an escaped or unusual target, any
// byte http.ReadRequest would refuse) makes it answer ok = false having consumed nothing, and the caller reads
// the request with http.ReadRequest as before, errors and all. FuzzParseRequest checks that whenever it answers,
// http.ReadRequest reads the same bytes into the same request.
//
// Why: http.ReadRequest and its textproto reader were ≈8 % of the server's CPU with 5,000 LL-HLS viewers (bench
// README, fan-out, fifth), for requests that are nearly always a GET line and three or four short fields.
func (c *conn) parseRequest(base *http.Request) (*http.Request, bool) {
	buf, _ := c.br.Peek(c.br.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, false
	}
	head := string(buf[:end+2]) // the request line and the fields, each with its CRLF
	req, ok := parseHead(head, base)
	if !ok {
		return nil, false
	}
	c.br.Discard(end + 4)
	return req, true
}

// parseHead parses a request head (lines ending in CRLF, without the blank line) into a copy of base.
func parseHead(head string, base *http.Request) (*http.Request, bool) {
	line, rest, ok := cutLine(head)
	if !ok {
		return nil, false
	}
	// "GET /target HTTP/1.1": one space each side of the target
	m, after, ok1 := cut(line, ' ')
	target, proto, ok2 := cut(after, ' ')
	if !ok1 || !ok2 || len(target) == 0 || target[0] != '/' {
		return nil, false
	}
	var minor int
	switch proto {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
	default:
		return nil, false
	}
	if m = internMethod(m); m == "" { // methods that carry no body
		return nil, false
	}
	u, ok := parseTarget(target)
	if !ok {
		return nil, false
	}
	// the fields: a count first, to make the map and the values' backing array once
	n := strings.Count(rest, "\n")
	h := make(http.Header, n)
	strs := make([]string, n)
	for len(rest) > 0 {
		if line, rest, ok = cutLine(rest); !ok || line == "" {
			return nil, false
		}
		k, v, found := cut(line, ':')
		if !found || !httpguts.ValidHeaderFieldName(k) {
			return nil, false
		}
		for i := 0; i < len(v); i++ {
			if !valueOK[v[i]] {
				return nil, false
			}
		}
		v = trimOWS(v)
		key := canonicalKey(k)
		switch key {
		case "Content-Length", "Transfer-Encoding", "Trailer", "Pragma", "Expect":
			return nil, false
		}
		if vv, seen := h[key]; seen {
			h[key] = append(vv, v)
		} else {
			vv, strs = strs[:1:1], strs[1:]
			vv[0] = v
			h[key] = vv
		}
	}
	hosts := h["Host"]
	if len(hosts) > 1 {
		return nil, false
	}
	conn := h["Connection"]
	if httpguts.HeaderValuesContainsToken(conn, "close") {
		return nil, false // http.ReadRequest removes the field from the header of an HTTP/1.1 request
	}
	req := new(http.Request)
	*req = *base
	req.Method, req.URL, req.RequestURI = m, u, target
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, 1, minor
	req.Header = h
	req.Body, req.ContentLength = http.NoBody, 0
	if len(hosts) == 1 {
		req.Host = hosts[0]
		delete(h, "Host") // as http.ReadRequest
	}
	req.Close = minor == 0 && !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	return req, true
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

// parseTarget makes the URL url.ParseRequestURI makes of an origin-form target, for targets whose path needs no
// escaping or unescaping and whose query has only visible ASCII (others: ok = false).
func parseTarget(target string) (*url.URL, bool) {
	path, query, hasQuery := cut(target, '?')
	for i := 0; i < len(path); i++ {
		if !pathOK[path[i]] {
			return nil, false
		}
	}
	for i := 0; i < len(query); i++ {
		if !queryOK[query[i]] {
			return nil, false
		}
	}
	u := &url.URL{Path: path, RawQuery: query}
	if hasQuery && query == "" {
		u.ForceQuery = true
	}
	return u, true
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
