package e2e

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func rawCall(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true} // see the bytes the server sends
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestWire checks the HTTP-level behaviour SDKs rely on.
func TestWire(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ids := map[string]bool{}

	// Success: JSON, a request id per response, unique.
	resp, body := rawCall(t, "POST", s.URL+"/CreateChannel", `{"name":"wire"}`, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("CreateChannel: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var created struct{ Channel struct{ Arn string } }
	if err := json.Unmarshal(body, &created); err != nil || created.Channel.Arn == "" {
		t.Fatalf("CreateChannel body %s", body)
	}
	ids[resp.Header.Get("x-amzn-RequestId")] = true

	// gzip is honoured when asked for, and the body decompresses to the same JSON.
	resp, body = rawCall(t, "POST", s.URL+"/GetChannel", `{"arn":"`+created.Channel.Arn+`"}`, map[string]string{"Accept-Encoding": "gzip, deflate"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Accept-Encoding: gzip not honoured: %v", resp.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !strings.Contains(string(plain), created.Channel.Arn) {
		t.Fatalf("gzip body: %s", plain)
	}
	ids[resp.Header.Get("x-amzn-RequestId")] = true
	// Not asked for: not compressed.
	resp, _ = rawCall(t, "POST", s.URL+"/GetChannel", `{"arn":"`+created.Channel.Arn+`"}`, map[string]string{"Accept-Encoding": "identity"})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("compressed without being asked: %v", resp.Header)
	}
	ids[resp.Header.Get("x-amzn-RequestId")] = true

	// 204 with no body where the model says so.
	resp, body = rawCall(t, "POST", s.URL+"/DeleteChannel", `{"arn":"`+created.Channel.Arn+`"}`, nil)
	if resp.StatusCode != 204 || len(body) != 0 {
		t.Fatalf("DeleteChannel: %d %q", resp.StatusCode, body)
	}
	ids[resp.Header.Get("x-amzn-RequestId")] = true

	// Errors: the model's status, x-amzn-ErrorType, exceptionMessage and message.
	resp, body = rawCall(t, "POST", s.URL+"/GetChannel", `{"arn":"`+created.Channel.Arn+`"}`, nil)
	var e map[string]string
	json.Unmarshal(body, &e)
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "ResourceNotFoundException" ||
		e["exceptionMessage"] == "" || e["message"] != e["exceptionMessage"] {
		t.Fatalf("GetChannel of a deleted channel: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	ids[resp.Header.Get("x-amzn-RequestId")] = true
	resp, _ = rawCall(t, "POST", s.URL+"/CreateStreamKey", `{"channelArn":"arn:aws:ivs:us-east-1:123456789012:channel/x"}`, nil)
	ids[resp.Header.Get("x-amzn-RequestId")] = true
	for id := range ids {
		if !uuidRE.MatchString(id) {
			t.Errorf("x-amzn-RequestId %q is not a UUID", id)
		}
	}
	if len(ids) != 6 {
		t.Errorf("request ids are not unique per response: %v", ids)
	}

	// CORS preflight, as a browser running the JavaScript SDK sends it.
	resp, _ = rawCall(t, "OPTIONS", s.URL+"/ListChannels", "", map[string]string{
		"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,x-amz-date,x-amz-user-agent,amz-sdk-invocation-id"})
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") == "" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "x-amz-date") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("CORS preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = rawCall(t, "POST", s.URL+"/ListChannels", `{}`, map[string]string{"Origin": "http://localhost:3000"})
	if resp.Header.Get("Access-Control-Allow-Origin") == "" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "x-amzn-RequestId") {
		t.Fatalf("CORS on the response: %v", resp.Header)
	}

	// The tag routes: URL-encoded ARN in the path, tagKeys as a repeated query parameter.
	resp, body = rawCall(t, "POST", s.URL+"/CreateChannel", `{"tags":{"a":"1","b c":"2","d":"3"}}`, nil)
	json.Unmarshal(body, &created)
	enc := strings.NewReplacer(":", "%3A", "/", "%2F").Replace(created.Channel.Arn)
	resp, _ = rawCall(t, "DELETE", s.URL+"/tags/"+enc+"?tagKeys=a&tagKeys=b%20c", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("UntagResource: %d", resp.StatusCode)
	}
	resp, body = rawCall(t, "GET", s.URL+"/tags/"+enc, "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"tags":{"d":"3"}}` {
		t.Fatalf("ListTagsForResource after untag: %d %s", resp.StatusCode, body)
	}
}
