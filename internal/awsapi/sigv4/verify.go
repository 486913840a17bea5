package sigv4

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DefaultMaxSkew is the clock skew allowed when Verifier.MaxSkew is 0.
const DefaultMaxSkew = 15 * time.Minute

// Verifier checks SigV4 signatures. Its exported fields must not change once
// Verify has been called; Verify is safe for concurrent use. A Verifier must
// not be copied after first use (it holds a cache of derived signing keys).
type Verifier struct {
	Credentials Credentials
	Services    []string         // accepted signing names, e.g. {"ivs"}; empty = any
	MaxSkew     time.Duration    // 0 (or negative) means 15 minutes
	Now         func() time.Time // nil means time.Now

	keys keyCache
}

// Verify checks the request's signature (header form or presigned query
// form) against body (the full request body, already read by the caller;
// r.Body is not read). It returns the matched credential and the scope on
// success. On failure the error is an *Error and the Scope holds whatever the
// request claimed (useful for logging the access key ID).
//
// Checks run in this order: signature syntax (400
// IncompleteSignatureException), scope date and service (403
// InvalidSignatureException), clock skew / presigned expiry (403
// InvalidSignatureException), access key (403 UnrecognizedClientException),
// signature (403 InvalidSignatureException). A request without any signature
// gets 403 MissingAuthenticationTokenException.
func (v *Verifier) Verify(r *http.Request, body []byte) (Credential, Scope, error) {
	var a authInfo
	ok, perr := parseAuth(r, &a)
	if !ok {
		return Credential{}, Scope{}, errMissingToken()
	}
	scope := a.scopeValue()
	if perr != nil {
		return Credential{}, scope, perr
	}
	if err := v.checkScope(&a); err != nil {
		return Credential{}, scope, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if err := v.checkTime(&a, now()); err != nil {
		return Credential{}, scope, err
	}
	if v.Credentials == nil {
		return Credential{}, scope, errUnrecognized()
	}
	cred, found := v.Credentials.Lookup(a.accessKeyID)
	if !found {
		return Credential{}, scope, errUnrecognized()
	}
	key, cached := v.keys.get(cred.SecretAccessKey, &a)
	if !cached {
		key = deriveSigningKey(cred.SecretAccessKey, a.date, a.region, a.service)
	}
	if err := checkSignature(r, body, &a, &key); err != nil {
		return Credential{}, scope, err
	}
	if !cached {
		// Only keys that verified a request are cached, so unauthenticated
		// clients cannot churn the cache with made-up scopes.
		v.keys.put(cred.SecretAccessKey, &a, &key)
	}
	return cred, scope, nil
}

func (v *Verifier) checkScope(a *authInfo) *Error {
	if a.date != a.amzDate[:8] {
		return errInvalid("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			a.date + "' != '" + a.amzDate[:8] + "', from '" + a.amzDate + "'.")
	}
	if len(v.Services) > 0 && !slices.Contains(v.Services, a.service) {
		return errInvalid("Credential should be scoped to correct service: '" + v.Services[0] + "'.")
	}
	return nil
}

func (v *Verifier) checkTime(a *authInfo, now time.Time) *Error {
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	now = now.UTC().Truncate(time.Second)
	if a.presigned && a.expires >= 0 {
		if ttl := time.Duration(a.expires) * time.Second; now.Sub(a.t) > ttl {
			return errInvalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
				a.amzDate, now.Add(-ttl).Format(amzDateLayout), now.Format(amzDateLayout), durationText(ttl)))
		}
	} else if now.Sub(a.t) > skew {
		return errInvalid(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			a.amzDate, now.Add(-skew).Format(amzDateLayout), now.Format(amzDateLayout), durationText(skew)))
	}
	if a.t.Sub(now) > skew {
		return errInvalid(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			a.amzDate, now.Add(skew).Format(amzDateLayout), now.Format(amzDateLayout), durationText(skew)))
	}
	return nil
}

func durationText(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return fmt.Sprintf("%d sec", d/time.Second)
}

// payloadChoice is one candidate for the last line of the canonical request.
type payloadChoice struct {
	literal string // used when useBody is false
	useBody bool   // the hex SHA-256 of the body
}

// payloadChoices returns the payload hashes to try, in order.
//
// X-Amz-Content-Sha256 (a header, or for presigned requests also a query
// parameter) is used as is when it is UNSIGNED-PAYLOAD, and must match the
// body otherwise. Without it the body's SHA-256 is used; a presigned request
// may instead have been signed over UNSIGNED-PAYLOAD (S3 style), so that is
// tried second. Accepting it costs nothing in safety: the signature only
// matches if the signer itself chose not to sign the body.
func payloadChoices(r *http.Request, body []byte, a *authInfo, bodyHex *[64]byte) (c [2]payloadChoice, n int, err *Error) {
	bodyHash := func() {
		sum := sha256.Sum256(body)
		hex.Encode(bodyHex[:], sum[:])
	}
	claimed, has := headerFirst(r.Header, "X-Amz-Content-Sha256")
	if !has && a.presigned && a.queryPayload != "" {
		claimed, has = a.queryPayload, true
	}
	if has {
		switch {
		case claimed == UnsignedPayload:
		case len(claimed) == 64 && isHexString(claimed):
			bodyHash()
			if !strings.EqualFold(claimed, string(bodyHex[:])) {
				return c, 0, errInvalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
		default:
			return c, 0, errInvalid("The 'x-amz-content-sha256' header must be UNSIGNED-PAYLOAD or the hex-encoded SHA-256 of the payload; streaming payloads are not supported.")
		}
		c[0] = payloadChoice{literal: claimed}
		return c, 1, nil
	}
	bodyHash()
	c[0] = payloadChoice{useBody: true}
	if a.presigned {
		c[1] = payloadChoice{literal: UnsignedPayload}
		return c, 2, nil
	}
	return c, 1, nil
}

func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// checkSignature rebuilds the canonical request and string to sign and
// compares the resulting signature with the one the request carries, in
// constant time.
func checkSignature(r *http.Request, body []byte, a *authInfo, key *[32]byte) *Error {
	var want [32]byte
	if !decodeSignature(a.signature, &want) {
		return errMismatch()
	}
	var bodyHex [64]byte
	choices, n, perr := payloadChoices(r, body, a, &bodyHex)
	if perr != nil {
		return perr
	}

	s := getScratch()
	defer putScratch(s)

	buf := append(s.buf[:0], r.Method...)
	buf = append(buf, '\n')
	buf = appendCanonicalURI(buf, r.URL)
	buf = append(buf, '\n')
	buf = s.appendCanonicalQuery(buf, r.URL.RawQuery, a.presigned)
	buf = append(buf, '\n')
	buf, ok := appendCanonicalHeaders(buf, r, a.signedHeaders)
	if !ok {
		s.buf = buf
		return errMismatch() // a signed header is missing from the request
	}
	buf = append(buf, '\n')
	buf = append(buf, a.signedHeaders...)
	buf = append(buf, '\n')
	prefix := len(buf)

	match := 0
	for _, p := range choices[:n] {
		if p.useBody {
			buf = append(buf[:prefix], bodyHex[:]...)
		} else {
			buf = append(buf[:prefix], p.literal...)
		}
		crHash := sha256.Sum256(buf)
		got := s.sign(key, a.amzDate, a.scope, &crHash)
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	s.buf = buf
	if match != 1 {
		return errMismatch()
	}
	return nil
}

// decodeSignature decodes 64 hex digits.
func decodeSignature(s string, dst *[32]byte) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < 32; i++ {
		hi, lo := s[2*i], s[2*i+1]
		if !isHex(hi) || !isHex(lo) {
			return false
		}
		dst[i] = unhex(hi)<<4 | unhex(lo)
	}
	return true
}

// sign computes HMAC-SHA256(key, stringToSign) where stringToSign is
// "AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex(crHash)>". The HMAC is done by
// hand (RFC 2104; the 32-byte key is shorter than the 64-byte block) so that
// the hot path does not allocate.
func (s *scratch) sign(key *[32]byte, amzDate, scope string, crHash *[32]byte) [32]byte {
	const blockSize = 64
	m := s.mac[:0]
	for i := 0; i < blockSize; i++ {
		b := byte(0)
		if i < len(key) {
			b = key[i]
		}
		m = append(m, b^0x36)
	}
	m = append(m, Algorithm+"\n"...)
	m = append(m, amzDate...)
	m = append(m, '\n')
	m = append(m, scope...)
	m = append(m, '\n')
	m = hex.AppendEncode(m, crHash[:])
	inner := sha256.Sum256(m)
	s.mac = m

	var outer [blockSize + sha256.Size]byte
	for i := 0; i < blockSize; i++ {
		b := byte(0)
		if i < len(key) {
			b = key[i]
		}
		outer[i] = b ^ 0x5c
	}
	copy(outer[blockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// appendCanonicalURI appends the path as the client sent it, URI-encoded once
// more (every byte but the RFC 3986 unreserved characters and '/' becomes
// %XX, so "%3A" becomes "%253A"), as required for all services but S3. The
// path is not normalized.
func appendCanonicalURI(dst []byte, u *url.URL) []byte {
	p := requestPath(u)
	if p == "" {
		return append(dst, '/')
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '/' || isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

const upperHex = "0123456789ABCDEF"

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// requestPath returns the escaped path as sent on the wire.
func requestPath(u *url.URL) string {
	if u.Opaque != "" {
		// Same convention as the AWS SDKs: "//host/path?query" or "/path".
		p := u.Opaque
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			return p[i:]
		}
		return ""
	}
	// EscapedPath returns RawPath when it is consistent with Path, but
	// checks that by unescaping into a new string. Do the same check
	// without allocating.
	if u.RawPath != "" && rawPathMatches(u.RawPath, u.Path) {
		return u.RawPath
	}
	return u.EscapedPath()
}

// rawPathMatches reports whether raw is a valid escaping of path, with the
// same rules as url.URL.EscapedPath.
func rawPathMatches(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if !isUnreserved(c) && strings.IndexByte("%/!$&'()*+,;=:@[]", c) < 0 {
			return false
		}
		if c == '%' {
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// qparam locates one encoded query parameter in scratch.q: the key is
// q[k0:k1] and the value q[k1:v1].
type qparam struct{ k0, k1, v1 int }

// appendCanonicalQuery appends the canonical query string: each name and
// value decoded ('+' is a space) and re-encoded per RFC 3986 with uppercase
// hex, sorted by encoded name then encoded value, a parameter without '='
// having an empty value. For presigned requests X-Amz-Signature is left out.
func (s *scratch) appendCanonicalQuery(dst []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return dst
	}
	q, ps := s.q[:0], s.params[:0]
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k0 := len(q)
		q = appendQueryComponent(q, k)
		k1 := len(q)
		if presigned && string(q[k0:k1]) == "X-Amz-Signature" {
			q = q[:k0]
			continue
		}
		q = appendQueryComponent(q, v)
		ps = append(ps, qparam{k0, k1, len(q)})
	}
	slices.SortFunc(ps, func(a, b qparam) int {
		if c := bytes.Compare(q[a.k0:a.k1], q[b.k0:b.k1]); c != 0 {
			return c
		}
		return bytes.Compare(q[a.k1:a.v1], q[b.k1:b.v1])
	})
	for i, p := range ps {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, q[p.k0:p.k1]...)
		dst = append(dst, '=')
		dst = append(dst, q[p.k1:p.v1]...)
	}
	s.q, s.params = q, ps
	return dst
}

// appendQueryComponent decodes a raw query component and appends its
// canonical (RFC 3986) encoding. A '%' not followed by two hex digits is
// taken literally.
func appendQueryComponent(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]):
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		}
		if isUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// appendCanonicalHeaders appends "name:value\n" for every name in the
// SignedHeaders list, in the list's order. ok is false when a signed header
// is absent from the request.
func appendCanonicalHeaders(dst []byte, r *http.Request, signed string) (_ []byte, ok bool) {
	for rest := signed; ; {
		name, more, found := strings.Cut(rest, ";")
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		dst = append(dst, ':')
		if dst, ok = appendHeaderValue(dst, r, name); !ok {
			return dst, false
		}
		dst = append(dst, '\n')
		if !found {
			return dst, true
		}
		rest = more
	}
}

// appendHeaderValue appends the canonical value of one signed header: all of
// its values, each trimmed with runs of spaces collapsed, joined by commas.
func appendHeaderValue(dst []byte, r *http.Request, name string) ([]byte, bool) {
	if name == "" {
		return dst, false
	}
	if strings.EqualFold(name, "host") {
		// net/http moves Host out of the header map.
		h := r.Host
		if h == "" && r.URL != nil {
			h = r.URL.Host
		}
		if h == "" {
			return dst, false
		}
		return appendTrimmed(dst, h), true
	}
	vals := lookupHeader(r.Header, name)
	if vals == nil {
		// net/http may also move these out of the header map.
		switch {
		case strings.EqualFold(name, "content-length") && r.ContentLength > 0:
			return fmt.Appendf(dst, "%d", r.ContentLength), true
		case strings.EqualFold(name, "transfer-encoding") && len(r.TransferEncoding) > 0:
			return append(dst, strings.Join(r.TransferEncoding, ",")...), true
		}
		return dst, false
	}
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendTrimmed(dst, v)
	}
	return dst, true
}

// lookupHeader finds a header by case-insensitive name without allocating
// in the common case (keys in canonical MIME form, as net/http stores them).
func lookupHeader(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) <= len(buf) {
		if v, ok := h[string(canonicalMIMEKey(buf[:0], name))]; ok {
			return v
		}
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// canonicalMIMEKey appends the form textproto.CanonicalMIMEHeaderKey gives
// name: "x-amz-date" becomes "X-Amz-Date". Like textproto, a name holding a
// byte that is not a token character is left unchanged.
func canonicalMIMEKey(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return append(dst, name...)
		}
	}
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
		upper = c == '-'
	}
	return dst
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+^`|", c) >= 0
}

// appendTrimmed appends v with leading and trailing whitespace removed and
// each run of spaces collapsed into one (what the AWS SDKs do; tabs inside
// a value are kept).
func appendTrimmed(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}
