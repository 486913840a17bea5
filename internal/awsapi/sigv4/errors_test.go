package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrors(t *testing.T) {
	now := testTime.Add(time.Minute)
	get := sdkRequests()[1]
	base, body := signSDK(t, get, false, "ivs", testTime)
	authz := base.Header.Get("Authorization")
	sig := signatureOf(base)
	cred := "Credential=" + testAKID + "/20240101/us-west-2/ivs/aws4_request"
	sh := "SignedHeaders=host;x-amz-date"
	sigParam := "Signature=" + sig

	presigned, pbody := presignSDK(t, get, false, 5*time.Minute, hashHex(nil), testTime)
	pquery := presigned.URL.RawQuery
	psig := signatureOf(presigned)

	withAuth := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	withQuery := func(old, new string) func(r *http.Request) {
		return func(r *http.Request) {
			if !strings.Contains(r.URL.RawQuery, old) {
				panic("query " + r.URL.RawQuery + " has no " + old)
			}
			r.URL.RawQuery = strings.Replace(r.URL.RawQuery, old, new, 1)
		}
	}
	const (
		incomplete = CodeIncompleteSignature
		invalid    = CodeInvalidSignature
	)
	cases := []struct {
		name      string
		presigned bool
		mutate    func(r *http.Request)
		verifier  *Verifier
		code      string
		status    int
		msg       string
		noScope   bool // ParseScope reports no signature at all
	}{
		{name: "no signature", mutate: func(r *http.Request) { r.Header.Del("Authorization") },
			code: CodeMissingAuthenticationToken, status: 403, msg: "Missing Authentication Token", noScope: true},
		{name: "blank authorization", mutate: withAuth("   "),
			code: CodeMissingAuthenticationToken, status: 403, msg: "Missing Authentication Token", noScope: true},
		{name: "bearer token", mutate: withAuth("Bearer abc.def"),
			code: incomplete, status: 400, msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{name: "sigv2", mutate: withAuth("AWS " + testAKID + ":c2lnbmF0dXJl"),
			code: incomplete, status: 400, msg: "requires 'Credential' parameter"},
		{name: "algorithm only", mutate: withAuth("AWS4-HMAC-SHA256"),
			code: incomplete, status: 400, msg: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."},
		{name: "missing signature", mutate: withAuth("AWS4-HMAC-SHA256 " + cred + ", " + sh),
			code: incomplete, status: 400, msg: "Authorization header requires 'Signature' parameter."},
		{name: "empty signature", mutate: withAuth("AWS4-HMAC-SHA256 " + cred + ", " + sh + ", Signature="),
			code: incomplete, status: 400, msg: "Authorization header requires 'Signature' parameter."},
		{name: "missing credential", mutate: withAuth("AWS4-HMAC-SHA256 " + sh + ", " + sigParam),
			code: incomplete, status: 400, msg: "Authorization header requires 'Credential' parameter."},
		{name: "missing signed headers", mutate: withAuth("AWS4-HMAC-SHA256 " + cred + ", " + sigParam),
			code: incomplete, status: 400, msg: "Authorization header requires 'SignedHeaders' parameter."},
		{name: "missing date", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") },
			code: incomplete, status: 400, msg: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."},
		{name: "malformed date", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-01-01T12:00:00Z") },
			code: incomplete, status: 400, msg: "X-Amz-Date must be in the ISO8601 Long Format"},
		{name: "impossible date", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240230T120000Z") },
			code: incomplete, status: 400, msg: "X-Amz-Date must be in the ISO8601 Long Format"},
		{name: "malformed Date header", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date"); r.Header.Set("Date", "yesterday") },
			code: incomplete, status: 400, msg: "Date header must be an RFC 1123 date"},
		{name: "missing equal sign", mutate: withAuth("AWS4-HMAC-SHA256 " + cred + ", SignedHeaders host;x-amz-date, " + sigParam),
			code: incomplete, status: 400, msg: "not a valid key=value pair (missing equal-sign)"},
		{name: "duplicate signature", mutate: withAuth(authz + ", " + sigParam),
			code: incomplete, status: 400, msg: "duplicate 'Signature' parameter"},
		{name: "sigv4a", mutate: withAuth(strings.Replace(authz, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)),
			code: incomplete, status: 400, msg: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
		{name: "credential with four parts", mutate: withAuth(strings.Replace(authz, "/ivs/aws4_request", "/aws4_request", 1)),
			code: incomplete, status: 400, msg: "Credential must have exactly 5 slash-delimited elements"},
		{name: "credential with six parts", mutate: withAuth(strings.Replace(authz, "/ivs/", "/ivs/x/", 1)),
			code: incomplete, status: 400, msg: "Credential must have exactly 5 slash-delimited elements"},
		{name: "bad terminator", mutate: withAuth(strings.Replace(authz, "aws4_request", "aws5_request", 1)),
			code: incomplete, status: 400, msg: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."},
		{name: "bad scope date", mutate: withAuth(strings.Replace(authz, "/20240101/", "/2024011/", 1)),
			code: incomplete, status: 400, msg: "Credential should be scoped to a valid date"},
		{name: "empty region", mutate: withAuth(strings.Replace(authz, "/us-west-2/", "//", 1)),
			code: incomplete, status: 400, msg: "Credential should be scoped to a valid region"},
		{name: "empty access key", mutate: withAuth(strings.Replace(authz, "Credential="+testAKID, "Credential=", 1)),
			code: incomplete, status: 400, msg: "Credential must name an access key ID."},
		{name: "host not signed", mutate: withAuth(strings.Replace(authz, "SignedHeaders=host;", "SignedHeaders=", 1)),
			code: incomplete, status: 400, msg: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{name: "both mechanisms", mutate: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256" },
			code: incomplete, status: 400, msg: "Only one auth mechanism allowed"},
		{name: "scope date differs from X-Amz-Date", mutate: withAuth(strings.Replace(authz, "/20240101/", "/20231231/", 1)),
			code: invalid, status: 403, msg: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20231231' != '20240101', from '20240101T120000Z'."},
		{name: "wrong service", mutate: withAuth(strings.Replace(authz, "/ivs/", "/s3/", 1)),
			code: invalid, status: 403, msg: "Credential should be scoped to correct service: 'ivs'."},
		{name: "unknown access key", mutate: withAuth(strings.Replace(authz, testAKID, "AKIDUNKNOWN", 1)),
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid."},
		{name: "no credential store", verifier: &Verifier{Now: func() time.Time { return now }},
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid."},
		{name: "short signature", mutate: withAuth(authz[:len(authz)-2]),
			code: invalid, status: 403, msg: mismatchMessage},
		{name: "non-hex signature", mutate: withAuth(authz[:len(authz)-1] + "g"),
			code: invalid, status: 403, msg: mismatchMessage},
		{name: "signed header absent", mutate: withAuth(strings.Replace(authz, "x-amz-date", "x-amz-date;x-missing", 1)),
			code: invalid, status: 403, msg: mismatchMessage},
		{name: "empty signed header name", mutate: withAuth(strings.Replace(authz, "host;", "host;;", 1)),
			code: invalid, status: 403, msg: mismatchMessage},
		{name: "content sha256 mismatch", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("other"))) },
			code: invalid, status: 403, msg: "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{name: "streaming payload", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD") },
			code: invalid, status: 403, msg: "streaming payloads are not supported"},

		{name: "presigned missing signature", presigned: true, mutate: withQuery("&X-Amz-Signature="+psig, ""),
			code: incomplete, status: 400, msg: "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters."},
		{name: "presigned missing date and credential", presigned: true, mutate: func(r *http.Request) {
			withQuery("X-Amz-Date=20240101T120000Z", "")(r)
			withQuery("X-Amz-Credential=", "X-Amz-Nothing=")(r)
		}, code: incomplete, status: 400, msg: "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine"},
		{name: "presigned bad algorithm", presigned: true, mutate: withQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=HMAC"),
			code: incomplete, status: 400, msg: "Unsupported AWS 'algorithm': 'HMAC'"},
		{name: "presigned expires zero", presigned: true, mutate: withQuery("X-Amz-Expires=300", "X-Amz-Expires=0"),
			code: incomplete, status: 400, msg: "at least 1 second"},
		{name: "presigned expires too long", presigned: true, mutate: withQuery("X-Amz-Expires=300", "X-Amz-Expires=604801"),
			code: incomplete, status: 400, msg: "X-Amz-Expires must be less than a week (in seconds) that is 604800."},
		{name: "presigned expires not a number", presigned: true, mutate: withQuery("X-Amz-Expires=300", "X-Amz-Expires=5m"),
			code: incomplete, status: 400, msg: "X-Amz-Expires should be a number of seconds, not '5m'."},
		{name: "presigned duplicate credential", presigned: true, mutate: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Credential=x" },
			code: incomplete, status: 400, msg: "duplicate 'X-Amz-Credential' parameter"},
		{name: "presigned host not signed", presigned: true, mutate: withQuery("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-openivs-test"),
			code: incomplete, status: 400, msg: "'Host' must be a 'SignedHeader'"},
		{name: "presigned unknown key", presigned: true, mutate: withQuery("X-Amz-Credential="+testAKID, "X-Amz-Credential=AKIDOTHER"),
			code: CodeUnrecognizedClient, status: 403, msg: "The security token included in the request is invalid."},
		{name: "presigned wrong service", presigned: true, mutate: withQuery("%2Fivs%2F", "%2Fivs-realtime%2F"),
			code: invalid, status: 403, msg: "Credential should be scoped to correct service: 'ivs'."},
		{name: "presigned signature in header too", presigned: true, mutate: func(r *http.Request) { r.Header.Set("Authorization", authz) },
			code: incomplete, status: 400, msg: "Only one auth mechanism allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, b := cloneReq(base), body
			if tc.presigned {
				r, b = cloneReq(presigned), pbody
				r.URL.RawQuery = pquery
			}
			if tc.mutate != nil {
				tc.mutate(r)
			}
			v := tc.verifier
			if v == nil {
				v = newVerifier(testCreds(), now)
			}
			_, _, err := v.Verify(r, b)
			wantErr(t, err, tc.code, tc.status, tc.msg, sig, psig)

			s, ok, perr := ParseScope(r)
			if ok == tc.noScope {
				t.Fatalf("ParseScope ok = %v", ok)
			}
			if tc.code == incomplete {
				wantErr(t, perr, tc.code, tc.status, tc.msg, sig, psig)
			} else if perr != nil {
				t.Fatalf("ParseScope: %v", perr)
			} else if ok && (s.AccessKeyID == "" || s.Service == "" || s.Presigned != tc.presigned) {
				t.Fatalf("ParseScope scope = %+v", s)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: CodeInvalidSignature, Status: 403, Message: "m"}
	if e.Error() != "InvalidSignatureException: m" {
		t.Fatal(e.Error())
	}
}

func TestClockSkew(t *testing.T) {
	get := sdkRequests()[1]
	r, body := signSDK(t, get, false, "ivs", testTime)
	for _, tc := range []struct {
		offset time.Duration
		skew   time.Duration
		msg    string
	}{
		{offset: 14 * time.Minute},
		{offset: -14 * time.Minute},
		{offset: 15 * time.Minute},
		{offset: 16 * time.Minute, msg: "Signature expired: 20240101T120000Z is now earlier than 20240101T120100Z (20240101T121600Z - 15 min.)"},
		{offset: -16 * time.Minute, msg: "Signature not yet current: 20240101T120000Z is still later than 20240101T115900Z (20240101T114400Z + 15 min.)"},
		{offset: 24 * time.Hour, msg: "Signature expired"},
		{offset: 4 * time.Minute, skew: 5 * time.Minute},
		{offset: 6 * time.Minute, skew: 5 * time.Minute, msg: "(20240101T120600Z - 5 min.)"},
		{offset: -6 * time.Minute, skew: 5 * time.Minute, msg: "Signature not yet current"},
		{offset: 31 * time.Second, skew: 30 * time.Second, msg: "(20240101T120031Z - 30 sec.)"},
	} {
		v := newVerifier(testCreds(), testTime.Add(tc.offset))
		v.MaxSkew = tc.skew
		_, _, err := v.Verify(r, body)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("offset %v skew %v: %v", tc.offset, tc.skew, err)
			}
			continue
		}
		wantErr(t, err, CodeInvalidSignature, 403, tc.msg)
	}
}

func TestPresignExpiry(t *testing.T) {
	get := sdkRequests()[1]
	r5, b5 := presignSDK(t, get, false, 5*time.Minute, hashHex(nil), testTime)
	r60, b60 := presignSDK(t, get, false, time.Hour, hashHex(nil), testTime)
	rNo, bNo := presignSDK(t, get, false, 0, hashHex(nil), testTime)
	if strings.Contains(rNo.URL.RawQuery, "X-Amz-Expires") {
		t.Fatal("unexpected X-Amz-Expires")
	}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		body   []byte
		offset time.Duration
		msg    string
	}{
		{"5m at 299s", r5, b5, 299 * time.Second, ""},
		{"5m at 300s", r5, b5, 300 * time.Second, ""},
		{"5m at 301s", r5, b5, 301 * time.Second, "Signature expired: 20240101T120000Z is now earlier than 20240101T120001Z (20240101T120501Z - 5 min.)"},
		{"1h at 59m (beyond the clock skew)", r60, b60, 59 * time.Minute, ""},
		{"1h at 61m", r60, b60, 61 * time.Minute, "Signature expired"},
		{"1h used 14m early", r60, b60, -14 * time.Minute, ""},
		{"1h used 16m early", r60, b60, -16 * time.Minute, "Signature not yet current: 20240101T120000Z is still later than 20240101T115900Z (20240101T114400Z + 15 min.)"},
		{"no expiry at 14m", rNo, bNo, 14 * time.Minute, ""},
		{"no expiry at 16m", rNo, bNo, 16 * time.Minute, "Signature expired"},
	} {
		v := newVerifier(testCreds(), testTime.Add(tc.offset))
		_, _, err := v.Verify(tc.r, tc.body)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		wantErr(t, err, CodeInvalidSignature, 403, tc.msg)
	}
}
