package sigv4

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// botocoreRequest is one request signed by testdata/botocore_sign.py.
type botocoreRequest struct {
	Name      string      `json:"name"`
	Method    string      `json:"method"`
	URL       string      `json:"url"`
	Headers   [][2]string `json:"headers"`
	Body      string      `json:"body"`
	Presigned bool        `json:"presigned"`
	AccessKey string      `json:"access_key"`
	SecretKey string      `json:"secret_key"`
}

// botocoreRequests runs the botocore signing script. python3 and botocore
// are prerequisites of this package's tests: their absence fails the test.
func botocoreRequests(t *testing.T, timestamp string) []botocoreRequest {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is required for the botocore interoperability test (install python3 and botocore): %v", err)
	}
	// The script is read here and fed on stdin so that go test's cache sees
	// it as an input of the test.
	script, err := os.ReadFile("testdata/botocore_sign.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-", timestamp, "http://"+testHost)
	cmd.Stdin = bytes.NewReader(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore_sign.py failed (is botocore installed? `python3 -c \"import botocore\"`): %v\n%s", err, stderr.String())
	}
	var reqs []botocoreRequest
	if err := json.Unmarshal(out, &reqs); err != nil {
		t.Fatalf("botocore_sign.py output: %v\n%s", err, out)
	}
	if len(reqs) < 10 {
		t.Fatalf("botocore_sign.py produced only %d requests", len(reqs))
	}
	return reqs
}

func (b botocoreRequest) serverRequest(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	req, err := http.NewRequest(b.Method, b.URL, strings.NewReader(b.Body))
	if err != nil {
		t.Fatal(err)
	}
	if b.Body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for _, h := range b.Headers {
		if strings.EqualFold(h[0], "Content-Length") {
			continue // net/http writes it from ContentLength
		}
		req.Header.Add(h[0], h[1])
	}
	return wire(t, req)
}

func TestBotocore(t *testing.T) {
	const timestamp = "20240101T120000Z"
	signed, _ := parseAmzDate(timestamp)
	now := signed.Add(90 * time.Second)
	reqs := botocoreRequests(t, timestamp)
	sawUA, sawPresigned, sawToken, sawDate, sawUnsigned := false, false, false, false, false
	for _, b := range reqs {
		t.Run(b.Name, func(t *testing.T) {
			r, body := b.serverRequest(t)
			creds := staticCreds{b.AccessKey: {AccessKeyID: b.AccessKey, SecretAccessKey: b.SecretKey, AccountID: testAccount}}
			v := newVerifier(creds, now)
			cred, scope, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v\n%s %s\n%v", err, b.Method, b.URL, r.Header)
			}
			if cred.AccessKeyID != b.AccessKey || scope.Presigned != b.Presigned || scope.Service != "ivs" || scope.Region != "us-west-2" {
				t.Fatalf("cred %+v scope %+v", cred, scope)
			}

			var a authInfo
			if ok, perr := parseAuth(r, &a); !ok || perr != nil {
				t.Fatalf("parseAuth: %v %v", ok, perr)
			}
			signsUA := strings.Contains(";"+a.signedHeaders+";", ";user-agent;")
			sawUA = sawUA || signsUA
			sawPresigned = sawPresigned || b.Presigned
			sawToken = sawToken || strings.Contains(strings.ToLower(r.URL.RawQuery+a.signedHeaders), "x-amz-security-token")
			sawDate = sawDate || strings.Contains(";"+a.signedHeaders+";", ";date;")
			sawUnsigned = sawUnsigned || r.Header.Get("X-Amz-Content-Sha256") == UnsignedPayload

			sig := signatureOf(r)
			check := func(name string, mutate func(r *http.Request, body []byte) []byte) {
				t.Run("tamper "+name, func(t *testing.T) {
					rr := cloneReq(r)
					bb := mutate(rr, bytes.Clone(body))
					_, _, err := v.Verify(rr, bb)
					wantErr(t, err, CodeInvalidSignature, http.StatusForbidden, "signature we calculated", sig, b.SecretKey)
				})
			}
			if signsUA {
				check("user-agent", func(r *http.Request, body []byte) []byte {
					r.Header.Set("User-Agent", "Boto3/1.35.1")
					return body
				})
			}
			if r.Header.Get("X-Openivs-Spaces") != "" {
				check("spaced header", func(r *http.Request, body []byte) []byte {
					r.Header.Set("X-Openivs-Spaces", "a b  c d")
					return body
				})
				// Only whitespace differences: still valid.
				rr := cloneReq(r)
				rr.Header.Set("X-Openivs-Spaces", " a b     c ")
				if _, _, err := v.Verify(rr, body); err != nil {
					t.Fatalf("whitespace-only change rejected: %v", err)
				}
			}
			if !b.Presigned && r.Header.Get("X-Amz-Content-Sha256") != UnsignedPayload {
				check("body", func(r *http.Request, body []byte) []byte { return append(body, '\n') })
			}
			check("path", func(r *http.Request, body []byte) []byte {
				setTarget(t, r, strings.Replace(r.URL.RequestURI(), "/", "/x", 1))
				return body
			})
			if r.URL.RawQuery != "" {
				check("query", func(r *http.Request, body []byte) []byte {
					setTarget(t, r, r.URL.RequestURI()+"&tagKeys=zz")
					return body
				})
			}
		})
	}
	if !sawUA || !sawPresigned || !sawToken || !sawDate || !sawUnsigned {
		t.Fatalf("botocore cases incomplete: user-agent %v presigned %v token %v date %v unsigned %v",
			sawUA, sawPresigned, sawToken, sawDate, sawUnsigned)
	}
}
