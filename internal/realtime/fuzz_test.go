package realtime

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

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// FuzzRealtimeAPI: arbitrary bodies and URI parameters to every real-time operation never give a 5xx, except the
// 501 NotImplemented of the operations that need the media server.
func FuzzRealtimeAPI(f *testing.F) {
	ops := realtimeapi.Operations(nil)
	stage := "arn:aws:ivs:us-east-1:123456789012:stage/abcdABCD1234"
	for i := range ops {
		f.Add(uint8(i), stage, []byte(`{}`))
	}
	seeds := []string{
		`{"name":"x","tags":{"a":"b"},"participantTokenConfigurations":[{"duration":1,"attributes":{"k":"v"}},{}]}`,
		`{"arn":"` + stage + `"}`, `{"stageArn":"` + stage + `","duration":20160,"capabilities":[]}`,
		`{"stageArn":"` + stage + `","sessionId":"st-abcdefghijklm","participantId":"p","maxResults":1,"nextToken":"AAAA"}`,
		`{"stageArn":"` + stage + `","sessionId":"st-abcdefghijklm","filterByPublished":true,"filterByState":"CONNECTED"}`,
		`{"publicKeyMaterial":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}`,
		`{"video":{"width":1921,"height":2,"framerate":0.5,"bitrate":0}}`, `{"video":{"width":1920,"height":1080}}`,
		`{"s3":{"bucketName":"b-1"}}`, `{"ingestProtocol":"RTMP","insecureIngest":false,"stageArn":"` + stage + `"}`,
		`{"ingestProtocol":"RTMPS","redundantIngest":true,"attributes":{"a":"b"}}`,
		`{"arn":"arn:aws:ivs:us-east-1:123456789012:ingest-configuration/abc","stageArn":"","force":true}`,
		`{"autoParticipantRecordingConfiguration":{"storageConfigurationArn":"arn:aws:ivs:us-east-1:1:storage-configuration/a"}}`,
		`{"filterByStageArn":"` + stage + `","filterByState":"ACTIVE"}`, `null`, `[]`, `{"tags":null}`, `{"a":`,
	}
	for i, s := range seeds {
		f.Add(uint8(i*7), stage, []byte(s))
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := f.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "fuzz.db"), log)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	issuer, err := token.OpenIssuer(filepath.Join(dir, "keys"))
	if err != nil {
		f.Fatal(err)
	}
	p, err := New(ctx, st, Config{PublicURL: "http://127.0.0.1:8080", RTMPAddr: "127.0.0.1:1935", RTMPSAddr: "127.0.0.1:4443"}, issuer, log)
	if err != nil {
		f.Fatal(err)
	}
	h, err := awsapi.NewHandler(&awsapi.OpenAuth{Account: "123456789012", Region: "us-east-1"}, log,
		&awsapi.Service{Name: "ivs-realtime", Operations: realtimeapi.Operations(p), Owns: Owns})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, opIndex uint8, param string, body []byte) {
		op := ops[int(opIndex)%len(ops)]
		path := strings.Replace(op.Path, "{resourceArn}", url.PathEscape(param), 1)
		req := httptest.NewRequest(op.Method, "http://127.0.0.1:8080"+path+"?tagKeys="+url.QueryEscape(param), strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && !(rec.Code == http.StatusNotImplemented && strings.HasPrefix(op.Name, "Start")) {
			t.Fatalf("%s with body %q: %d %s", op.Name, body, rec.Code, rec.Body.String())
		}
		if rec.Code != op.Status && rec.Header().Get("x-amzn-ErrorType") == "" {
			t.Fatalf("%s: status %d without an error type", op.Name, rec.Code)
		}
	})
}
