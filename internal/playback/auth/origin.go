package auth

import (
	"errors"
	"strconv"
	"strings"
)

// origin is a parsed serialised origin: scheme://host[:port], scheme and host lower-cased, the scheme's default
// port dropped.
type origin struct {
	scheme, host, port string
}

// allowEntry is one allowed origin; with wildcard, host is the suffix the origin's host must end with, dot included
// (".example.com"), after at least one more character.
type allowEntry struct {
	scheme, host, port string
	wildcard           bool
}

// allowList is a parsed list of allowed origins; any means every origin is allowed ("*").
type allowList struct {
	any     bool
	entries []allowEntry
}

var defaultPorts = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}

// parseOrigin parses an origin (an Origin header value or an allowed origin). With wildcardOK the host may start
// with "*.". "null" (an opaque origin) and anything with a path, query, fragment or user info is refused.
func parseOrigin(s string, wildcardOK bool) (allowEntry, error) {
	var e allowEntry
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !validScheme(scheme) {
		return e, errors.New("not scheme://host[:port]")
	}
	e.scheme = strings.ToLower(scheme)
	if strings.ContainsAny(rest, "/?#@\\ \t") {
		return e, errors.New("an origin has no path, query, fragment or user info")
	}
	host, port := rest, ""
	if strings.HasPrefix(rest, "[") { // IPv6 literal
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return e, errors.New("unterminated IPv6 literal")
		}
		host = rest[:end+1]
		switch after := rest[end+1:]; {
		case after == "":
		case after[0] == ':':
			port = after[1:]
		default:
			return e, errors.New("junk after the IPv6 literal")
		}
		if !validIPv6Literal(host[1:end]) {
			return e, errors.New("invalid IPv6 literal")
		}
	} else {
		if i := strings.LastIndexByte(rest, ':'); i >= 0 {
			host, port = rest[:i], rest[i+1:]
		}
		if wildcardOK && strings.HasPrefix(host, "*.") {
			e.wildcard = true
			host = host[1:] // ".example.com"
			if !validHost(host[1:]) {
				return e, errors.New("invalid host")
			}
		} else if !validHost(host) {
			return e, errors.New("invalid host")
		}
	}
	if (port != "" || strings.HasSuffix(rest, ":")) && !validPort(port) {
		return e, errors.New("invalid port")
	}
	if defaultPorts[e.scheme] == port {
		port = ""
	}
	e.host, e.port = strings.ToLower(host), port
	return e, nil
}

// validPort accepts 1 to 65535 in decimal, without sign or leading zero.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n <= 65535
}

func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// validHost accepts a DNS name or IPv4 address: dot-separated non-empty labels of letters, digits, '-' and '_'.
// (An Origin header carries internationalised names in their ASCII, punycode, form.)
func validHost(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

func validIPv6Literal(s string) bool {
	if s == "" || len(s) > 45 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && !isHex(c) && c != ':' && c != '.' {
			return false
		}
	}
	return strings.Contains(s, ":")
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// parseAllowList parses aws:access-control-allow-origin: "" or "*" allows any origin; otherwise a comma-separated
// list of origins (blank items skipped, a trailing "/" tolerated), "*" among them allowing any.
func parseAllowList(s string) (allowList, error) {
	var l allowList
	if strings.TrimSpace(s) == "" {
		l.any = true
		return l, nil
	}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		switch item {
		case "":
			continue
		case "*":
			l.any = true
			continue
		}
		e, err := parseOrigin(strings.TrimSuffix(item, "/"), true)
		if err != nil {
			return allowList{}, errors.New(truncate(item) + ": " + err.Error())
		}
		l.entries = append(l.entries, e)
	}
	if len(l.entries) == 0 {
		l.any = true
	}
	return l, nil
}

// allows reports whether the list allows the Origin header value o (never "" or "null" unless any).
func (l allowList) allows(o string) bool {
	if l.any {
		return true
	}
	if o == "" {
		return false
	}
	got, err := parseOrigin(o, false)
	if err != nil {
		return false
	}
	for _, e := range l.entries {
		if e.scheme != got.scheme || e.port != got.port {
			continue
		}
		if e.wildcard {
			if len(got.host) > len(e.host) && strings.HasSuffix(got.host, e.host) {
				return true
			}
		} else if e.host == got.host {
			return true
		}
	}
	return false
}

// CheckOrigin checks an Origin header value against a list of allowed origins in the form of
// aws:access-control-allow-origin. allow "" or "*" allows everything; otherwise origin must match one of the listed
// origins: same scheme, same host (case-insensitive; "*.example.com" matches any name under example.com), same
// port (the scheme's default port may be written or not). An empty or "null" origin matches nothing. Errors are
// *Refusal with ReasonOrigin. CheckOrigin applies no request rule: see Claims.Check and Policy.Check.
func CheckOrigin(allow, origin string) error {
	l, err := parseAllowList(allow)
	if err != nil {
		return Refuse(ReasonOrigin, "the list of allowed origins is invalid: "+err.Error())
	}
	return checkOrigin(l, origin, false)
}

func checkOrigin(l allowList, origin string, restricted bool) error {
	if l.allows(origin) {
		return nil
	}
	mk := Refuse
	if restricted {
		mk = restriction
	}
	if origin == "" {
		return mk(ReasonOrigin, "playback of this channel is restricted to some origins: the request needs an Origin header (set it with setOrigin in the IVS iOS and Android player SDKs)")
	}
	return mk(ReasonOrigin, "the origin "+truncate(origin)+" is not allowed to play this channel")
}

// checkRequestOrigin applies an origin restriction to one request (see Claims.Check).
func checkRequestOrigin(allow string, strict bool, origin string, multivariant, restricted bool) error {
	if !strict && (!multivariant || origin == "") {
		return nil
	}
	l, err := parseAllowList(allow)
	if err != nil { // decodeClaims refuses such tokens; kept for Claims built by hand
		return Refuse(ReasonOrigin, "the list of allowed origins is invalid: "+err.Error())
	}
	return checkOrigin(l, origin, restricted)
}

// truncate bounds a client-supplied string quoted in a message.
func truncate(s string) string {
	const max = 128
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "") + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
