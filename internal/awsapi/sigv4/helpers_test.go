package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "123456789012"
	testToken   = "IQoJb3JpZ2luX2VjEXAMPLE/session+token=="
	testRegion  = "us-west-2"
	testHost    = "127.0.0.1:8443"
	testARNPath = "/tags/arn%3Aaws%3Aivs%3Aus-west-2%3A123456789012%3Achannel%2FabcdABCD1234"
)

// testTime is when test requests are signed.
var testTime = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

type staticCreds map[string]Credential

func (s staticCreds) Lookup(id string) (Credential, bool) {
	c, ok := s[id]
	return c, ok
}

func testCreds() staticCreds {
	return staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret, AccountID: testAccount}}
}

func newVerifier(creds Credentials, now time.Time) *Verifier {
	return &Verifier{Credentials: creds, Services: []string{"ivs"}, Now: func() time.Time { return now }}
}

// wire sends req through the HTTP/1.1 wire format and parses it back the way
// net/http's server does (Host moves to r.Host, Content-Length stays in the
// header map, ...). It returns the server-side request and its body.
func wire(t testing.TB, req *http.Request) (*http.Request, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatalf("write request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatalf("read request: %v\n%s", err, buf.String())
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	sr.Body = http.NoBody
	return sr, body
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sdkRequest is a request to sign with the AWS SDK for Go v2 signer.
type sdkRequest struct {
	name    string
	method  string
	target  string // path and query, escaped
	body    string
	headers map[string]string
}

func sdkRequests() []sdkRequest {
	common := map[string]string{"X-Openivs-Test": "signed  value", "X-Amz-User-Agent": "aws-sdk-go-v2/1.47.7"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	return []sdkRequest{
		{"POST CreateChannel", "POST", "/CreateChannel", `{"name":"test-channel","latencyMode":"LOW","type":"STANDARD","tags":{"k":"v"}}`,
			with(map[string]string{"Content-Type": "application/json"})},
		{"GET tags", "GET", testARNPath + "?tagKeys=a&tagKeys=b%20c", "", with(nil)},
		{"DELETE tags", "DELETE", testARNPath + "?tagKeys=a&tagKeys=b%20c", "", with(nil)},
	}
}

func (s sdkRequest) build(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(s.method, "http://"+testHost+s.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	return req
}

func sdkCreds(token bool) aws.Credentials {
	c := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
	if token {
		c.SessionToken = testToken
	}
	return c
}

// signSDK signs s with SignHTTP (Authorization header form) at signTime and
// returns the server-side request and body.
func signSDK(t testing.TB, s sdkRequest, token bool, service string, signTime time.Time) (*http.Request, []byte) {
	t.Helper()
	req := s.build(t)
	err := v4.NewSigner().SignHTTP(context.Background(), sdkCreds(token), req, hashHex([]byte(s.body)), service, testRegion, signTime)
	if err != nil {
		t.Fatal(err)
	}
	return wire(t, req)
}

// presignSDK signs s with PresignHTTP (query form) at signTime, valid for
// expires, signing payloadHash, and returns the server-side request and body.
func presignSDK(t testing.TB, s sdkRequest, token bool, expires time.Duration, payloadHash string, signTime time.Time) (*http.Request, []byte) {
	t.Helper()
	req := s.build(t)
	if expires > 0 {
		if req.URL.RawQuery != "" {
			req.URL.RawQuery += "&"
		}
		req.URL.RawQuery += "X-Amz-Expires=" + strconv.FormatInt(int64(expires/time.Second), 10)
	}
	uri, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), sdkCreds(token), req, payloadHash, "ivs", testRegion, signTime)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	preq, err := http.NewRequest(s.method, uri, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "Host") {
			preq.Host = vs[0]
			continue
		}
		preq.Header[k] = vs
	}
	for k, v := range s.headers { // headers the SDK hoisted into the query are sent anyway
		if preq.Header.Get(k) == "" {
			preq.Header.Set(k, v)
		}
	}
	return wire(t, preq)
}

// setTarget replaces the request's path and query with an escaped target.
func setTarget(t testing.TB, r *http.Request, target string) {
	t.Helper()
	u, err := url.ParseRequestURI(target)
	if err != nil {
		t.Fatal(err)
	}
	r.URL.Path, r.URL.RawPath, r.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	r.RequestURI = target
}

// cloneReq deep-copies a server-side request so a test can tamper with it.
func cloneReq(r *http.Request) *http.Request {
	c := r.Clone(context.Background())
	return c
}

// wantErr asserts that err is an *Error with the given code and status whose
// message contains want and no secret or signature.
func wantErr(t testing.TB, err error, code string, status int, want string, secrets ...string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("got %s/%d (%q), want %s/%d", e.Code, e.Status, e.Message, code, status)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("message %q does not contain %q", e.Message, want)
	}
	for _, s := range append(secrets, testSecret) {
		if s != "" && strings.Contains(e.Error(), s) {
			t.Fatalf("error %q leaks %q", e.Error(), s)
		}
	}
	return e
}

// signatureOf returns the signature a request carries (header or query form).
func signatureOf(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if i := strings.Index(a, "Signature="); i >= 0 {
			return a[i+len("Signature="):]
		}
	}
	return r.URL.Query().Get("X-Amz-Signature")
}

func newSDKSigner() *v4.Signer { return v4.NewSigner() }
