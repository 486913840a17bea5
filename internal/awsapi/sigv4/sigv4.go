// Package sigv4 verifies AWS Signature Version 4 signed HTTP requests on the
// server side.
//
// Both forms of SigV4 are supported: the Authorization header form
// ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...") and
// the presigned query form (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date,
// X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature).
//
// The canonical request is rebuilt from what the client actually sent: every
// header listed in SignedHeaders is used (including headers that some signers
// never sign, such as User-Agent), the path is URI-encoded a second time as
// required for every service but S3, and the query is decoded and re-encoded
// per RFC 3986 and sorted by encoded key, then encoded value.
//
// Errors are *Error values carrying the AWS error code and HTTP status the
// HTTP layer should answer with. They never contain a secret key or a
// signature.
package sigv4

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// UnsignedPayload is the payload hash a client may sign instead of the
// SHA-256 of the body (sent in X-Amz-Content-Sha256).
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// AWS error codes returned in Error.Code.
const (
	CodeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	CodeIncompleteSignature        = "IncompleteSignatureException"
	CodeUnrecognizedClient         = "UnrecognizedClientException"
	CodeInvalidSignature           = "InvalidSignatureException"
)

const (
	// amzDateLayout is the ISO 8601 basic format of X-Amz-Date.
	amzDateLayout = "20060102T150405Z"
	// maxPresignExpires is the longest X-Amz-Expires accepted (7 days).
	maxPresignExpires = 604800
	// maxEcho bounds how much of a client-supplied value is quoted back in
	// an error message.
	maxEcho = 64
)

// Credential is what the server knows about an access key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	AccountID       string
}

// Credentials looks up access keys.
type Credentials interface {
	Lookup(accessKeyID string) (Credential, bool)
}

// Scope is what a request claims in its signature: parsed without verifying
// anything.
type Scope struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string
	Service     string
	Presigned   bool
}

// Error is returned by Verify/ParseScope; the HTTP layer turns it into an AWS
// error response.
type Error struct {
	Code    string // AWS error code, e.g. "InvalidSignatureException"
	Status  int    // HTTP status
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errMissingToken() *Error {
	return &Error{Code: CodeMissingAuthenticationToken, Status: http.StatusForbidden, Message: "Missing Authentication Token"}
}

func errIncomplete(msg string) *Error {
	return &Error{Code: CodeIncompleteSignature, Status: http.StatusBadRequest, Message: msg}
}

func errUnrecognized() *Error {
	return &Error{Code: CodeUnrecognizedClient, Status: http.StatusForbidden, Message: "The security token included in the request is invalid."}
}

func errInvalid(msg string) *Error {
	return &Error{Code: CodeInvalidSignature, Status: http.StatusForbidden, Message: msg}
}

const mismatchMessage = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func errMismatch() *Error { return errInvalid(mismatchMessage) }

// echo quotes a client-supplied value for an error message, truncated so a
// hostile client cannot make us build huge messages. Callers never pass
// signatures or secrets.
func echo(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho] + "..."
	}
	return "'" + strings.ToValidUTF8(s, "?") + "'"
}

// authInfo is a parsed signature. Its strings are substrings of the request
// (header form) or decoded query values (presigned form).
type authInfo struct {
	presigned     bool
	credential    string // AKID/date/region/service/aws4_request
	accessKeyID   string
	date          string // scope date, yyyymmdd
	region        string
	service       string
	scope         string // date/region/service/aws4_request
	signedHeaders string
	signature     string
	amzDate       string // request time as yyyymmddThhmmssZ
	t             time.Time
	expires       int64  // presigned X-Amz-Expires in seconds; -1 when absent
	queryPayload  string // presigned X-Amz-Content-Sha256 query value
}

func (a *authInfo) scopeValue() Scope {
	return Scope{AccessKeyID: a.accessKeyID, Date: a.date, Region: a.region, Service: a.service, Presigned: a.presigned}
}

// ParseScope extracts the credential scope from the Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ivs/aws4_request,
// SignedHeaders=..., Signature=...") or from the presigned query
// (X-Amz-Algorithm, X-Amz-Credential, ...). ok is false when the request
// carries no SigV4 signature at all; err is non-nil when it carries a
// malformed one. On error the returned Scope holds whatever could be parsed.
//
// Any non-empty Authorization header counts as an attempt to sign (as with
// AWS, "Authorization: Bearer x" is an IncompleteSignatureException, not a
// missing token).
func ParseScope(r *http.Request) (s Scope, ok bool, err error) {
	var a authInfo
	ok, perr := parseAuth(r, &a)
	if perr != nil {
		return a.scopeValue(), ok, perr
	}
	return a.scopeValue(), ok, nil
}

// headerFirst returns the first value of a header given in canonical form.
func headerFirst(h http.Header, canonicalKey string) (string, bool) {
	v := h[canonicalKey]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// parseAuth fills a from r. ok reports whether r carries any signature.
func parseAuth(r *http.Request, a *authInfo) (ok bool, err *Error) {
	a.expires = -1
	authz, hasAuthz := headerFirst(r.Header, "Authorization")
	if hasAuthz && strings.TrimSpace(authz) == "" {
		hasAuthz = false
	}
	presign := hasPresignQuery(r.URL.RawQuery)
	switch {
	case hasAuthz && presign:
		return true, errIncomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.")
	case hasAuthz:
		return true, parseHeaderAuth(r, authz, a)
	case presign:
		a.presigned = true
		return true, parsePresignAuth(r.URL.RawQuery, a)
	}
	return false, nil
}

// hasPresignQuery reports whether the raw query names any of the presigned
// signature parameters.
func hasPresignQuery(raw string) bool {
	if !strings.Contains(raw, "X-Amz-") {
		return false
	}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(pair, "=")
		switch k {
		case "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders":
			return true
		}
	}
	return false
}

func parseHeaderAuth(r *http.Request, authz string, a *authInfo) *Error {
	authz = strings.TrimSpace(authz)
	alg, rest, _ := strings.Cut(authz, " ")
	if alg != Algorithm {
		if strings.HasPrefix(alg, "AWS4-") {
			return errIncomplete("Unsupported AWS 'algorithm': " + echo(alg) + ". Only '" + Algorithm + "' is supported.")
		}
		// Not a SigV4 header at all (e.g. "AWS AKID:sig", "Bearer ...").
		return errIncomplete(missingHeaderParams(true, true, true, !hasDateHeader(r)))
	}
	var credential, signedHeaders, signature string
	var haveCred, haveSH, haveSig bool
	for rest != "" {
		// Parameters are separated by commas, optionally followed by spaces.
		i := strings.IndexAny(rest, ", ")
		var tok string
		if i < 0 {
			tok, rest = rest, ""
		} else {
			tok, rest = rest[:i], rest[i+1:]
		}
		if tok == "" {
			continue
		}
		k, v, found := strings.Cut(tok, "=")
		if !found {
			return errIncomplete("Authorization header contains a parameter that is not a valid key=value pair (missing equal-sign).")
		}
		var dup bool
		switch k {
		case "Credential":
			dup, credential, haveCred = haveCred, v, true
		case "SignedHeaders":
			dup, signedHeaders, haveSH = haveSH, v, true
		case "Signature":
			dup, signature, haveSig = haveSig, v, true
		}
		if dup {
			return errIncomplete("Authorization header contains a duplicate " + echo(k) + " parameter.")
		}
	}
	noDate := !hasDateHeader(r)
	if credential == "" || signedHeaders == "" || signature == "" || noDate {
		return errIncomplete(missingHeaderParams(credential == "", signature == "", signedHeaders == "", noDate))
	}
	a.signature = signature
	if err := a.setCredential(credential); err != nil {
		return err
	}
	if err := a.setSignedHeaders(signedHeaders); err != nil {
		return err
	}
	return a.setHeaderDate(r)
}

func missingHeaderParams(cred, sig, sh, date bool) string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	if cred {
		add("Authorization header requires 'Credential' parameter.")
	}
	if sig {
		add("Authorization header requires 'Signature' parameter.")
	}
	if sh {
		add("Authorization header requires 'SignedHeaders' parameter.")
	}
	if date {
		add("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	return b.String()
}

func hasDateHeader(r *http.Request) bool {
	if v, ok := headerFirst(r.Header, "X-Amz-Date"); ok && v != "" {
		return true
	}
	v, ok := headerFirst(r.Header, "Date")
	return ok && v != ""
}

// setHeaderDate takes the request time from X-Amz-Date, else from Date.
func (a *authInfo) setHeaderDate(r *http.Request) *Error {
	if v, ok := headerFirst(r.Header, "X-Amz-Date"); ok && v != "" {
		t, ok := parseAmzDate(v)
		if !ok {
			return errIncomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
		}
		a.amzDate, a.t = v, t
		return nil
	}
	v, _ := headerFirst(r.Header, "Date")
	t, ok := parseHTTPDate(v)
	if !ok {
		return errIncomplete("Date header must be an RFC 1123 date, e.g. 'Mon, 01 Jan 2024 00:00:00 GMT'.")
	}
	a.t = t.UTC()
	a.amzDate = a.t.Format(amzDateLayout)
	return nil
}

func parseHTTPDate(v string) (time.Time, bool) {
	for _, layout := range [...]string{time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseAmzDate parses yyyymmddThhmmssZ strictly without allocating.
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != 16 || s[8] != 'T' || s[15] != 'Z' {
		return time.Time{}, false
	}
	y, mo, d, ok := parseYMD(s[:8])
	h, ok1 := atoi(s[9:11])
	mi, ok2 := atoi(s[11:13])
	se, ok3 := atoi(s[13:15])
	if !ok || !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, se, 0, time.UTC), true
}

// parseYMD parses and validates yyyymmdd.
func parseYMD(s string) (y, m, d int, ok bool) {
	if len(s) != 8 {
		return 0, 0, 0, false
	}
	y, ok1 := atoi(s[0:4])
	m, ok2 := atoi(s[4:6])
	d, ok3 := atoi(s[6:8])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, false
	}
	// time.Date normalizes overflows (February 30 is March 1 or 2): reject them.
	if time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// atoi parses a short run of ASCII digits.
func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

func validScopeDate(s string) bool {
	_, _, _, ok := parseYMD(s)
	return ok
}

// setCredential parses "AKID/yyyymmdd/region/service/aws4_request".
func (a *authInfo) setCredential(c string) *Error {
	a.credential = c
	if strings.Count(c, "/") != 4 {
		return errIncomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request.")
	}
	var rest, term string
	a.accessKeyID, rest, _ = strings.Cut(c, "/")
	a.scope = rest
	a.date, rest, _ = strings.Cut(rest, "/")
	a.region, rest, _ = strings.Cut(rest, "/")
	a.service, term, _ = strings.Cut(rest, "/")
	switch {
	case a.accessKeyID == "":
		return errIncomplete("Credential must name an access key ID.")
	case !validScopeDate(a.date):
		return errIncomplete("Credential should be scoped to a valid date in the form yyyymmdd, not " + echo(a.date) + ".")
	case a.region == "":
		return errIncomplete("Credential should be scoped to a valid region, not ''.")
	case a.service == "":
		return errIncomplete("Credential should be scoped to a valid service, not ''.")
	case term != "aws4_request":
		return errIncomplete("Credential should be scoped with a valid terminator: 'aws4_request', not " + echo(term) + ".")
	}
	return nil
}

func (a *authInfo) setSignedHeaders(sh string) *Error {
	a.signedHeaders = sh
	for rest := sh; ; {
		name, more, found := strings.Cut(rest, ";")
		if name == "host" {
			return nil
		}
		if !found {
			break
		}
		rest = more
	}
	if a.presigned {
		return errIncomplete("'Host' must be a 'SignedHeader' in the AWS query-string parameters.")
	}
	return errIncomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
}

func parsePresignAuth(raw string, a *authInfo) *Error {
	const (
		pAlg = iota
		pCred
		pDate
		pSH
		pSig
		pExp
		pPayload
		pN
	)
	names := [pN]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires", "X-Amz-Content-Sha256"}
	var vals [pN]string
	var seen [pN]bool
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k = queryUnescape(k)
		for i, n := range names {
			if k != n {
				continue
			}
			if seen[i] {
				return errIncomplete("AWS query-string parameters contain a duplicate " + echo(n) + " parameter.")
			}
			seen[i], vals[i] = true, queryUnescape(v)
		}
	}
	var missing strings.Builder
	for _, i := range [...]int{pAlg, pCred, pSig, pDate, pSH} {
		if vals[i] == "" {
			missing.WriteString("AWS query-string parameters must include " + echo(names[i]) + ". ")
		}
	}
	if missing.Len() > 0 {
		missing.WriteString("Re-examine the query-string parameters.")
		return errIncomplete(missing.String())
	}
	if vals[pAlg] != Algorithm {
		return errIncomplete("Unsupported AWS 'algorithm': " + echo(vals[pAlg]) + ". Only '" + Algorithm + "' is supported.")
	}
	a.signature = vals[pSig]
	a.queryPayload = vals[pPayload]
	if err := a.setCredential(vals[pCred]); err != nil {
		return err
	}
	if err := a.setSignedHeaders(vals[pSH]); err != nil {
		return err
	}
	t, ok := parseAmzDate(vals[pDate])
	if !ok {
		return errIncomplete("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\".")
	}
	a.amzDate, a.t = vals[pDate], t
	if seen[pExp] {
		n, err := strconv.ParseInt(vals[pExp], 10, 64)
		switch {
		case err != nil || n < 0:
			return errIncomplete("X-Amz-Expires should be a number of seconds, not " + echo(vals[pExp]) + ".")
		case n < 1:
			return errIncomplete("X-Amz-Expires must be non-negative and at least 1 second.")
		case n > maxPresignExpires:
			return errIncomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
		}
		a.expires = n
	}
	return nil
}

// queryUnescape decodes a query component ('+' is a space; a malformed
// escape is kept literally). It allocates only when s contains an escape.
func queryUnescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
