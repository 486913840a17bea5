package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fuzzSecret is the secret the fuzzed verifier knows for testAKID. The seeds
// are signed with testSecret, so no fuzz input can verify without forging an
// HMAC: any success is a bug.
const fuzzSecret = "fuzz/secret/that/no/seed/was/signed/with"

// fuzzRequest builds a request from fuzzed parts.
func fuzzRequest(authz, rawQuery, amzDate, rawPath string) *http.Request {
	path := rawPath
	if p, err := url.PathUnescape(rawPath); err == nil {
		path = p
	}
	r := &http.Request{
		Method: "POST",
		Host:   testHost,
		URL:    &url.URL{Path: path, RawPath: rawPath, RawQuery: rawQuery},
		Header: http.Header{"Content-Type": {"application/json"}, "X-Openivs-Test": {"signed  value"}},
	}
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	if amzDate != "" {
		r.Header.Set("X-Amz-Date", amzDate)
	}
	return r
}

// addSignedSeeds adds seeds derived from real SDK signatures.
func addSignedSeeds(f *testing.F, add func(authz, rawQuery, amzDate, rawPath string, body []byte)) {
	for _, s := range sdkRequests() {
		r, body := signSDK(f, s, true, "ivs", testTime)
		add(r.Header.Get("Authorization"), r.URL.RawQuery, r.Header.Get("X-Amz-Date"), r.URL.EscapedPath(), body)
		p, pbody := presignSDK(f, s, false, 5*time.Minute, hashHex([]byte(s.body)), testTime)
		add("", p.URL.RawQuery, "", p.URL.EscapedPath(), pbody)
	}
	add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-west-2/ivs/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000",
		"a=1&b=%zz&&=", "20240101T120000Z", "/", nil)
	add("AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=", "X-Amz-Algorithm=AWS4-HMAC-SHA256", "2024", "/%", []byte("{}"))
	add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20240101%2Fr%2Fivs%2Faws4_request&X-Amz-Date=20240101T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=99999999999999999999", "", "/", nil)
}

func checkFuzzError(t *testing.T, err error) *Error {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	switch {
	case e.Code == CodeIncompleteSignature && e.Status == 400,
		e.Code == CodeInvalidSignature && e.Status == 403,
		e.Code == CodeUnrecognizedClient && e.Status == 403,
		e.Code == CodeMissingAuthenticationToken && e.Status == 403:
	default:
		t.Fatalf("unexpected code/status %s/%d", e.Code, e.Status)
	}
	if e.Message == "" || strings.Contains(e.Message, fuzzSecret) || strings.Contains(e.Message, testSecret) {
		t.Fatalf("bad message %q", e.Message)
	}
	return e
}

func FuzzParseScope(f *testing.F) {
	addSignedSeeds(f, func(authz, rawQuery, amzDate, _ string, _ []byte) { f.Add(authz, rawQuery, amzDate) })
	v := &Verifier{
		Credentials: staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: fuzzSecret}},
		Now:         func() time.Time { return testTime },
	}
	f.Fuzz(func(t *testing.T, authz, rawQuery, amzDate string) {
		r := fuzzRequest(authz, rawQuery, amzDate, "/")
		s, ok, err := ParseScope(r)
		switch {
		case !ok:
			if err != nil || s != (Scope{}) {
				t.Fatalf("no signature but scope %+v err %v", s, err)
			}
		case err != nil:
			if e := checkFuzzError(t, err); e.Code != CodeIncompleteSignature {
				t.Fatalf("ParseScope returned %s", e.Code)
			}
		default:
			if s.AccessKeyID == "" || len(s.Date) != 8 || s.Region == "" || s.Service == "" {
				t.Fatalf("incomplete scope %+v", s)
			}
			if s.Presigned != (strings.TrimSpace(authz) == "") {
				t.Fatalf("Presigned = %v with Authorization %q", s.Presigned, authz)
			}
		}
		_, vs, verr := v.Verify(r, nil)
		if verr == nil {
			t.Fatalf("fuzzed request verified: %+v", vs)
		}
		checkFuzzError(t, verr)
		if ok && vs != s {
			t.Fatalf("Verify scope %+v != ParseScope scope %+v", vs, s)
		}
	})
}

func FuzzVerify(f *testing.F) {
	addSignedSeeds(f, func(authz, rawQuery, amzDate, rawPath string, body []byte) {
		f.Add(authz, rawQuery, amzDate, rawPath, body)
	})
	v := &Verifier{
		Credentials: staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: fuzzSecret}},
		Services:    []string{"ivs"},
		Now:         func() time.Time { return testTime },
	}
	f.Fuzz(func(t *testing.T, authz, rawQuery, amzDate, rawPath string, body []byte) {
		r := fuzzRequest(authz, rawQuery, amzDate, rawPath)
		cred, _, err := v.Verify(r, body)
		if err == nil {
			t.Fatalf("fuzzed request verified as %+v", cred)
		}
		checkFuzzError(t, err)
		if cred != (Credential{}) {
			t.Fatalf("credential returned with an error: %+v", cred)
		}
	})
}

// FuzzRoundTrip signs fuzzed requests with the AWS SDK signer and checks that
// they verify (differential test of the canonicalization), then that a
// changed body does not.
func FuzzRoundTrip(f *testing.F) {
	f.Add("GET", "arn:aws:ivs:us-west-2:123456789012:channel/abcdABCD1234", "tagKeys", "b c", "signed  value", []byte(nil))
	f.Add("POST", "a b/c%d~e", "k=1&x", "a/b-c+d%", " \tlead and trail\t ", []byte(`{"name":"x"}`))
	f.Add("DELETE", "caf\u00e9", "", "\u00a0", "tab\tinside", []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, method, segment, qkey, qval, hval string, body []byte) {
		switch method {
		case "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD":
		default:
			t.Skip()
		}
		if !validHeaderValue(hval) {
			t.Skip()
		}
		q := url.Values{}
		if qkey != "" {
			q.Add(qkey, qval)
			q.Add(qkey, qval+"2")
		}
		target := "http://" + testHost + "/tags/" + url.PathEscape(segment)
		if len(q) > 0 {
			target += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
		}
		req, err := http.NewRequest(method, target, strings.NewReader(string(body)))
		if err != nil {
			t.Skip()
		}
		if len(body) == 0 {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		req.Header.Set("X-Openivs-Test", hval)
		if err := newSDKSigner().SignHTTP(t.Context(), sdkCreds(true), req, hashHex(body), "ivs", testRegion, testTime); err != nil {
			t.Fatal(err)
		}
		r, got := wire(t, req)
		v := newVerifier(testCreds(), testTime)
		if _, _, err := v.Verify(r, got); err != nil {
			t.Fatalf("SDK-signed request rejected: %v\n%s %s\n%q", err, r.Method, r.RequestURI, r.Header)
		}
		if _, _, err := v.Verify(r, append(got, '!')); err == nil {
			t.Fatal("changed body verified")
		}
	})
}

// validHeaderValue reports whether v survives the HTTP/1.1 wire (no control
// characters other than tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
