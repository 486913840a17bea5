package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// tamper is one modification of a correctly signed request that must make
// verification fail.
type tamper struct {
	name   string
	mutate func(t *testing.T, r *http.Request, body []byte) []byte
	// verifier overrides the default one (e.g. a wrong secret).
	verifier *Verifier
}

func replaceTarget(t *testing.T, r *http.Request, old, new string) {
	t.Helper()
	target := r.URL.RequestURI()
	if !strings.Contains(target, old) {
		t.Fatalf("target %q does not contain %q", target, old)
	}
	setTarget(t, r, strings.Replace(target, old, new, 1))
}

func wrongSecretVerifier(now time.Time) *Verifier {
	return newVerifier(staticCreds{testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret + "x", AccountID: testAccount}}, now)
}

// commonTampers apply to both signature forms.
func commonTampers(s sdkRequest, now time.Time) []tamper {
	ts := []tamper{
		{name: "body", mutate: func(t *testing.T, r *http.Request, body []byte) []byte { return append(body, ' ') }},
		{name: "signed header changed", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
			r.Header.Set("X-Openivs-Test", "signed value2")
			return body
		}},
		{name: "signed header removed", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
			r.Header.Del("X-Openivs-Test")
			return body
		}},
		{name: "host", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
			r.Host = "127.0.0.1:9999"
			return body
		}},
		{name: "method", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
			r.Method = "PUT"
			return body
		}},
		{name: "secret", verifier: wrongSecretVerifier(now), mutate: func(t *testing.T, r *http.Request, body []byte) []byte { return body }},
	}
	if strings.Contains(s.target, "tags") {
		ts = append(ts,
			tamper{name: "path", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				replaceTarget(t, r, "abcdABCD1234", "abcdABCD1235")
				return body
			}},
			tamper{name: "path unescaped", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				// Same decoded path, different bytes on the wire: the client
				// signed the escaped form.
				replaceTarget(t, r, "%3A", ":")
				return body
			}},
			tamper{name: "query value", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				replaceTarget(t, r, "tagKeys=b%20c", "tagKeys=b%20d")
				return body
			}},
			tamper{name: "query value dropped", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				replaceTarget(t, r, "tagKeys=a&", "")
				return body
			}},
			tamper{name: "query value added", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				replaceTarget(t, r, "tagKeys=a&", "tagKeys=a&tagKeys=z&")
				return body
			}},
		)
	} else {
		ts = append(ts,
			tamper{name: "path", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				replaceTarget(t, r, "/CreateChannel", "/CreateChannel2")
				return body
			}},
			tamper{name: "query added", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
				setTarget(t, r, r.URL.RequestURI()+"?x=1")
				return body
			}},
		)
	}
	return ts
}

func runTampers(t *testing.T, r *http.Request, body []byte, def *Verifier, ts []tamper) {
	t.Helper()
	sig := signatureOf(r)
	if len(sig) != 64 {
		t.Fatalf("no signature found in request")
	}
	for _, tc := range ts {
		t.Run("tamper "+tc.name, func(t *testing.T) {
			rr := cloneReq(r)
			b := tc.mutate(t, rr, bytes.Clone(body))
			v := def
			if tc.verifier != nil {
				v = tc.verifier
			}
			_, _, err := v.Verify(rr, b)
			wantErr(t, err, CodeInvalidSignature, http.StatusForbidden, "signature we calculated does not match", sig)
		})
	}
}

// equivalent is a modification that must not break verification.
type equivalent struct {
	name   string
	mutate func(t *testing.T, r *http.Request)
}

func runEquivalents(t *testing.T, r *http.Request, body []byte, v *Verifier, es []equivalent) {
	t.Helper()
	for _, e := range es {
		t.Run("still valid "+e.name, func(t *testing.T) {
			rr := cloneReq(r)
			e.mutate(t, rr)
			if _, _, err := v.Verify(rr, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func queryEquivalents(s sdkRequest) []equivalent {
	es := []equivalent{
		{"unsigned header added", func(t *testing.T, r *http.Request) { r.Header.Set("X-Unsigned", "x") }},
		{"user-agent changed", func(t *testing.T, r *http.Request) { r.Header.Set("User-Agent", "curl/8") }},
	}
	if strings.Contains(s.target, "tags") {
		es = append(es,
			equivalent{"query reordered", func(t *testing.T, r *http.Request) {
				replaceTarget(t, r, "tagKeys=a&tagKeys=b%20c", "tagKeys=b%20c&tagKeys=a")
			}},
			equivalent{"space as plus", func(t *testing.T, r *http.Request) { replaceTarget(t, r, "b%20c", "b+c") }},
			equivalent{"needless escape", func(t *testing.T, r *http.Request) { replaceTarget(t, r, "tagKeys=a", "tagKeys=%61") }},
		)
	}
	return es
}

func TestSDKSignHTTP(t *testing.T) {
	now := testTime.Add(2 * time.Minute)
	for _, s := range sdkRequests() {
		for _, token := range []bool{false, true} {
			name := s.name
			if token {
				name += " with session token"
			}
			t.Run(name, func(t *testing.T) {
				r, body := signSDK(t, s, token, "ivs", testTime)
				if token && r.Header.Get("X-Amz-Security-Token") != testToken {
					t.Fatalf("SDK did not send the session token")
				}
				v := newVerifier(testCreds(), now)
				cred, scope, err := v.Verify(r, body)
				if err != nil {
					t.Fatalf("Verify: %v\nAuthorization: %s", err, r.Header.Get("Authorization"))
				}
				if cred.AccountID != testAccount || cred.AccessKeyID != testAKID {
					t.Fatalf("credential = %+v", cred)
				}
				want := Scope{AccessKeyID: testAKID, Date: "20240101", Region: testRegion, Service: "ivs"}
				if scope != want {
					t.Fatalf("scope = %+v, want %+v", scope, want)
				}
				ps, ok, err := ParseScope(r)
				if !ok || err != nil || ps != want {
					t.Fatalf("ParseScope = %+v, %v, %v", ps, ok, err)
				}
				// A second verification hits the signing key cache.
				if _, _, err := v.Verify(r, body); err != nil {
					t.Fatalf("second Verify: %v", err)
				}

				ts := commonTampers(s, now)
				ts = append(ts,
					tamper{name: "date", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
						r.Header.Set("X-Amz-Date", "20240101T120001Z")
						return body
					}},
					tamper{name: "signature", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
						a := r.Header.Get("Authorization")
						last := a[len(a)-1]
						repl := byte('0')
						if last == '0' {
							repl = '1'
						}
						r.Header.Set("Authorization", a[:len(a)-1]+string(repl))
						return body
					}},
				)
				if token {
					ts = append(ts, tamper{name: "session token", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
						r.Header.Set("X-Amz-Security-Token", testToken+"x")
						return body
					}}, tamper{name: "session token removed", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
						r.Header.Del("X-Amz-Security-Token")
						return body
					}})
				}
				runTampers(t, r, body, v, ts)
				runEquivalents(t, r, body, v, queryEquivalents(s))
			})
		}
	}
}

func TestSDKPresignHTTP(t *testing.T) {
	now := testTime.Add(2 * time.Minute)
	for _, s := range sdkRequests() {
		for _, token := range []bool{false, true} {
			for _, unsigned := range []bool{false, true} {
				name := s.name
				if token {
					name += " with session token"
				}
				payload := hashHex([]byte(s.body))
				if unsigned {
					name += " UNSIGNED-PAYLOAD"
					payload = UnsignedPayload
				}
				t.Run(name, func(t *testing.T) {
					r, body := presignSDK(t, s, token, 5*time.Minute, payload, testTime)
					if r.Header.Get("Authorization") != "" || r.URL.Query().Get("X-Amz-Signature") == "" {
						t.Fatalf("not a presigned request: %s", r.URL)
					}
					v := newVerifier(testCreds(), now)
					_, scope, err := v.Verify(r, body)
					if err != nil {
						t.Fatalf("Verify: %v\nURL: %s", err, r.URL)
					}
					want := Scope{AccessKeyID: testAKID, Date: "20240101", Region: testRegion, Service: "ivs", Presigned: true}
					if scope != want {
						t.Fatalf("scope = %+v, want %+v", scope, want)
					}
					if ps, ok, err := ParseScope(r); !ok || err != nil || ps != want {
						t.Fatalf("ParseScope = %+v, %v, %v", ps, ok, err)
					}

					ts := commonTampers(s, now)
					if unsigned {
						// The signer chose not to sign the body: changing it is allowed.
						ts = ts[1:]
						rr := cloneReq(r)
						if _, _, err := v.Verify(rr, append(bytes.Clone(body), 'x')); err != nil {
							t.Fatalf("UNSIGNED-PAYLOAD request with another body: %v", err)
						}
					}
					ts = append(ts,
						tamper{name: "date", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
							replaceTarget(t, r, "X-Amz-Date=20240101T120000Z", "X-Amz-Date=20240101T120001Z")
							return body
						}},
						tamper{name: "expires", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
							replaceTarget(t, r, "X-Amz-Expires=300", "X-Amz-Expires=3000")
							return body
						}},
						tamper{name: "signature", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
							sig := r.URL.Query().Get("X-Amz-Signature")
							replaceTarget(t, r, "X-Amz-Signature="+sig, "X-Amz-Signature="+sig[:63]+map[bool]string{true: "1", false: "0"}[sig[63] == '0'])
							return body
						}},
						tamper{name: "extra query parameter", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
							setTarget(t, r, r.URL.RequestURI()+"&extra=1")
							return body
						}},
					)
					if token {
						ts = append(ts, tamper{name: "session token", mutate: func(t *testing.T, r *http.Request, body []byte) []byte {
							replaceTarget(t, r, "X-Amz-Security-Token=", "X-Amz-Security-Token=x")
							return body
						}})
					}
					runTampers(t, r, body, v, ts)
					runEquivalents(t, r, body, v, queryEquivalents(s))
				})
			}
		}
	}
}

// TestSDKOverHTTP sends SDK-signed requests to a real net/http server.
func TestSDKOverHTTP(t *testing.T) {
	var v *Verifier
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if _, _, err := v.Verify(r, body); err != nil {
			e := err.(*Error)
			http.Error(w, e.Code, e.Status)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	now := time.Now().UTC()
	v = newVerifier(testCreds(), now)
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, s := range sdkRequests() {
		for _, presign := range []bool{false, true} {
			req := s.build(t)
			req.URL.Host, req.Host = host, host
			if presign {
				req.URL.RawQuery = strings.TrimPrefix(req.URL.RawQuery+"&X-Amz-Expires=60", "&")
				uri, hdr, err := newSDKSigner().PresignHTTP(t.Context(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
					req, hashHex([]byte(s.body)), "ivs", testRegion, now)
				if err != nil {
					t.Fatal(err)
				}
				preq, err := http.NewRequest(s.method, uri, strings.NewReader(s.body))
				if err != nil {
					t.Fatal(err)
				}
				for k, vs := range hdr {
					if k != "Host" {
						preq.Header[k] = vs
					}
				}
				for k, val := range s.headers {
					if preq.Header.Get(k) == "" {
						preq.Header.Set(k, val)
					}
				}
				req = preq
			} else {
				err := newSDKSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
					req, hashHex([]byte(s.body)), "ivs", testRegion, now)
				if err != nil {
					t.Fatal(err)
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("%s presign=%v: status %d: %s", s.name, presign, resp.StatusCode, msg)
			}
		}
	}
}
