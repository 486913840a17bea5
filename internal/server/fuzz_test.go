package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openivs/openivs/internal/config"
	"github.com/openivs/openivs/internal/ivs"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// FuzzAPI feeds arbitrary bodies (and URI parameters) to every operation of the API and asserts that the server
// never panics and never answers 5xx: bad input is a client error.
func FuzzAPI(f *testing.F) {
	ops := ivsapi.Operations(nil)
	for i := range ops {
		f.Add(uint8(i), "arn:aws:ivs:us-east-1:123456789012:channel/abcdABCD1234", []byte(`{}`))
	}
	seeds := []string{
		`{"name":"x","type":"BASIC","tags":{"a":"b"}}`, `{"arn":"arn:aws:ivs:us-east-1:123456789012:channel/abc"}`,
		`{"arns":["arn:aws:ivs:us-east-1:123456789012:channel/abc","x"]}`, `{"maxResults":1,"nextToken":"AAAA"}`,
		`{"multitrackInputConfiguration":{"enabled":true}}`, `{"publicKeyMaterial":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}`,
		`{"channelArn":"arn:aws:ivs:us-east-1:123456789012:channel/abc","metadata":"m"}`, `{"viewerSessions":[{}]}`,
		`{"filterByName":"a","filterByRecordingConfigurationArn":"arn:aws:ivs:us-east-1:1:recording-configuration/a"}`,
		`{"destinationConfiguration":{"s3":{"bucketName":"b"}},"thumbnailConfiguration":{"recordingMode":"DISABLED","targetIntervalSeconds":5}}`,
		`null`, `[]`, `{"tags":null}`, `{"a":`, "\x1f\x8b",
	}
	for i, s := range seeds {
		f.Add(uint8(i*7), "", []byte(s))
	}
	dir := f.TempDir()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(ctx, filepath.Join(dir, "fuzz.db"), log)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	cfg := config.Config{PublicURL: "http://127.0.0.1:8080", RTMPSAddr: "127.0.0.1:4443", SRTAddr: "127.0.0.1:9000",
		DataDir: dir, Region: "us-east-1", AccountID: "123456789012", Auth: config.AuthOpen,
		QuotaChannels: 50, QuotaPlaybackKeyPairs: 3, QuotaRecordingConfigurations: 20, QuotaPlaybackRestrictionPolicies: 20, QuotaAdConfigurations: 20}
	h, _, err := newAPI(ctx, cfg, st, config.Credentials{}, ivs.Offline{}, log, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, param string, body []byte) {
		op := ops[int(opIndex)%len(ops)]
		path := strings.Replace(op.Path, "{resourceArn}", escapeSegment(param), 1)
		req := httptest.NewRequest(op.Method, "http://127.0.0.1:8080"+path+"?tagKeys="+url.QueryEscape(param), strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s with body %q: %d %s", op.Name, body, rec.Code, rec.Body.String())
		}
		if rec.Code != op.Status && rec.Header().Get("x-amzn-ErrorType") == "" {
			t.Fatalf("%s: status %d without an error type", op.Name, rec.Code)
		}
		if rec.Code == http.StatusNoContent && rec.Body.Len() != 0 {
			t.Fatalf("%s: 204 with a body", op.Name)
		}
	})
}

func escapeSegment(s string) string { return url.PathEscape(s) }
