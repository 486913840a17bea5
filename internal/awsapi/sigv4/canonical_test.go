package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKnownAnswer checks the "get-vanilla" and "get-vanilla-query-order-key"
// cases of AWS's published SigV4 test suite, independently of any SDK.
func TestKnownAnswer(t *testing.T) {
	creds := staticCreds{"AKIDEXAMPLE": {AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}
	now := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	for _, tc := range []struct{ target, sig string }{
		{"/", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"/?Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	} {
		r, err := http.NewRequest("GET", "http://example.amazonaws.com"+tc.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("X-Amz-Date", "20150830T123600Z")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature="+tc.sig)
		v := &Verifier{Credentials: creds, Now: func() time.Time { return now }}
		if _, _, err := v.Verify(r, nil); err != nil {
			t.Errorf("%s: %v", tc.target, err)
		}
	}
}

func TestHMACMatchesStdlib(t *testing.T) {
	s := getScratch()
	defer putScratch(s)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		var key, cr [32]byte
		for j := range key {
			key[j], cr[j] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		date := fmt.Sprintf("2024%04dT000000Z", i)
		scope := strings.Repeat("x", i) + "/aws4_request"
		got := s.sign(&key, date, scope, &cr)
		m := hmac.New(sha256.New, key[:])
		fmt.Fprintf(m, "AWS4-HMAC-SHA256\n%s\n%s\n%x", date, scope, cr)
		if want := m.Sum(nil); !hmac.Equal(got[:], want) {
			t.Fatalf("case %d: got %x want %x", i, got, want)
		}
	}
}

func TestDeriveSigningKey(t *testing.T) {
	// Example from the AWS documentation on deriving a signing key.
	got := deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
	if fmt.Sprintf("%x", got) != want {
		t.Fatalf("got %x want %s", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	for _, tc := range []struct{ target, want string }{
		{"/", "/"},
		{"", "/"},
		{"/CreateChannel", "/CreateChannel"},
		{testARNPath, "/tags/arn%253Aaws%253Aivs%253Aus-west-2%253A123456789012%253Achannel%252FabcdABCD1234"},
		{"/tags/arn:aws:ivs", "/tags/arn%3Aaws%3Aivs"},
		{"/a%20b/c~d_e.f-g", "/a%2520b/c~d_e.f-g"},
		{"/a b", "/a%2520b"}, // net/url escapes the space first
		{"/%E2%82%AC", "/%25E2%2582%25AC"},
		{"/a/./b//c", "/a/./b//c"}, // not normalized
	} {
		u := &url.URL{}
		if tc.target != "" {
			var err error
			if u, err = url.Parse(tc.target); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(appendCanonicalURI(nil, u)); got != tc.want {
			t.Errorf("%q: got %q want %q", tc.target, got, tc.want)
		}
	}
	// A RawPath that no longer matches Path is ignored, as by EscapedPath.
	u := &url.URL{Path: "/new", RawPath: "/old%3A"}
	if got := string(appendCanonicalURI(nil, u)); got != "/new" {
		t.Errorf("stale RawPath: got %q", got)
	}
	u = &url.URL{Opaque: "//example.com/a%3Ab?x=1"}
	if got := string(appendCanonicalURI(nil, u)); got != "/a%253Ab" {
		t.Errorf("opaque: got %q", got)
	}
}

func TestCanonicalQuery(t *testing.T) {
	for _, tc := range []struct {
		raw       string
		presigned bool
		want      string
	}{
		{"", false, ""},
		{"tagKeys=b%20c&tagKeys=a", false, "tagKeys=a&tagKeys=b%20c"},
		{"b=1&a=2&a=1", false, "a=1&a=2&b=1"},
		{"x=a+b&y=%7e&z=%2a", false, "x=a%20b&y=~&z=%2A"},
		{"flag&=v&&k=", false, "=v&flag=&k="},
		{"k=%zz&k2=%", false, "k=%25zz&k2=%25"},
		// Sorted after encoding: "a%2Fb" < "a-b" although '/' > '-'.
		{"v=a-b&v=a/b", false, "v=a%2Fb&v=a-b"},
		{"k=caf%C3%A9", false, "k=caf%C3%A9"},
		{"X-Amz-Signature=abc&a=1", true, "a=1"},
		{"X-Amz-Signature=abc&a=1", false, "X-Amz-Signature=abc&a=1"},
		{"X%2DAmz-Signature=abc&a=1", true, "a=1"},
	} {
		s := getScratch()
		got := string(s.appendCanonicalQuery(nil, tc.raw, tc.presigned))
		putScratch(s)
		if got != tc.want {
			t.Errorf("%q presigned=%v: got %q want %q", tc.raw, tc.presigned, got, tc.want)
		}
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := &http.Request{
		Host:             "example.com:8443",
		URL:              &url.URL{},
		Header:           http.Header{},
		ContentLength:    12,
		TransferEncoding: []string{"chunked"},
	}
	r.Header["X-Multi"] = []string{" a  b ", "c"}
	r.Header["X-Tab"] = []string{"\ta\t b\t"}
	r.Header["x-lower"] = []string{"set without canonicalization"}
	got, ok := appendCanonicalHeaders(nil, r, "content-length;host;transfer-encoding;x-lower;x-multi;x-tab")
	want := "content-length:12\nhost:example.com:8443\ntransfer-encoding:chunked\nx-lower:set without canonicalization\nx-multi:a b,c\nx-tab:a\t b\n"
	if !ok || string(got) != want {
		t.Fatalf("got %v %q\nwant %q", ok, got, want)
	}
	if _, ok := appendCanonicalHeaders(nil, r, "host;x-absent"); ok {
		t.Fatal("absent header accepted")
	}
}

func TestCanonicalMIMEKey(t *testing.T) {
	for _, name := range []string{"x-amz-date", "X-AMZ-DATE", "content-type", "x_underscore", "a b", "weird\x00", "--x--", "1-abc"} {
		if got, want := string(canonicalMIMEKey(nil, name)), http.CanonicalHeaderKey(name); got != want {
			t.Errorf("%q: got %q want %q", name, got, want)
		}
	}
}

func TestDateHeaderFallback(t *testing.T) {
	for _, d := range []string{"Mon, 01 Jan 2024 12:00:00 GMT", "Mon, 01 Jan 2024 12:00:00 -0000", "Monday, 01-Jan-24 12:00:00 GMT", "Mon Jan  1 12:00:00 2024"} {
		r := &http.Request{Header: http.Header{"Authorization": {"AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request, SignedHeaders=date;host, Signature=00"}, "Date": {d}}, URL: &url.URL{}}
		var a authInfo
		if ok, err := parseAuth(r, &a); !ok || err != nil || a.amzDate != "20240101T120000Z" {
			t.Errorf("%q: %v %v %q", d, ok, err, a.amzDate)
		}
	}
}

// TestSigningKeyCache checks that a rotated secret is not served from the
// cache, that failed verifications are not cached, and that the cache is
// bounded and safe for concurrent use.
func TestSigningKeyCache(t *testing.T) {
	get := sdkRequests()[1]
	r, body := signSDK(t, get, false, "ivs", testTime)
	creds := testCreds()
	v := newVerifier(creds, testTime)
	if _, _, err := v.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	if len(v.keys.m) != 1 {
		t.Fatalf("cache has %d entries", len(v.keys.m))
	}
	// Rotate the secret: the cached key must not be used.
	creds[testAKID] = Credential{AccessKeyID: testAKID, SecretAccessKey: "rotated"}
	if _, _, err := v.Verify(r, body); err == nil {
		t.Fatal("request signed with the old secret verified after rotation")
	}
	creds[testAKID] = Credential{AccessKeyID: testAKID, SecretAccessKey: testSecret}

	// Unverified scopes are not cached.
	v2 := newVerifier(staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: "wrong"}}, testTime)
	for i := 0; i < 10; i++ {
		_, _, _ = v2.Verify(r, body)
	}
	if len(v2.keys.m) != 0 {
		t.Fatalf("failed verifications cached %d keys", len(v2.keys.m))
	}

	// Bounded: more scopes than slots, verified concurrently.
	v3 := &Verifier{Credentials: creds, Now: func() time.Time { return testTime }}
	const regions = keyCacheSize + 100
	reqs := make([]*http.Request, regions)
	bodies := make([][]byte, regions)
	for i := range reqs {
		rr := get.build(t)
		if err := newSDKSigner().SignHTTP(t.Context(), sdkCreds(false), rr, hashHex(nil), "ivs", fmt.Sprintf("region-%d", i), testTime); err != nil {
			t.Fatal(err)
		}
		reqs[i], bodies[i] = wire(t, rr)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < regions*2; i += 4 {
				if _, _, err := v3.Verify(reqs[i%regions], bodies[i%regions]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(v3.keys.m); n > keyCacheSize || n < keyCacheSize/2 {
		t.Fatalf("cache has %d entries, bound %d", n, keyCacheSize)
	}
}

// TestRequestPathMatchesEscapedPath: the allocation-free path extraction
// must agree with url.URL.EscapedPath on server-parsed URLs.
func TestRequestPathMatchesEscapedPath(t *testing.T) {
	for _, target := range []string{
		"/", "/CreateChannel", testARNPath, "/a%2fb", "/a%2Fb", "/%7Euser", "/~user", "/a!b", "/a$b&c'd(e)f*g+h,i;j=k:l@m",
		"/a%20b", "/caf%C3%A9", "/a%25b", "/[x]", "/a%3a", "/a%3A%3a", "/x%2e%2E/y",
	} {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%q: %v", target, err)
		}
		if got, want := requestPath(u), u.EscapedPath(); got != want {
			t.Errorf("%q: got %q, EscapedPath %q", target, got, want)
		}
	}
}
