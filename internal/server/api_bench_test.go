package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openivs/openivs/internal/config"
	"github.com/openivs/openivs/internal/ivs"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// BenchmarkAPI measures the server side of API calls in process (no network): SigV4 verification, decoding,
// validation, the store and encoding, with 10,000 channels stored. Requests are signed once, outside the loop.
func BenchmarkAPI(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.OpenWithOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{CacheEntries: cacheEntries}, log)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	creds := config.Credentials{"AKIDBENCH": {AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret", AccountID: "123456789012"}}
	cfg := config.Config{PublicURL: "http://127.0.0.1:8080", RTMPSAddr: "127.0.0.1:4443", SRTAddr: "127.0.0.1:9000",
		DataDir: b.TempDir(), Region: "us-east-1", AccountID: "123456789012", Auth: config.AuthSigV4, QuotaChannels: 20000,
		QuotaPlaybackKeyPairs: 3, QuotaRecordingConfigurations: 20, QuotaPlaybackRestrictionPolicies: 20, QuotaAdConfigurations: 20}
	h, _, err := newAPI(ctx, cfg, st, creds, ivs.Offline{}, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	signer := v4.NewSigner()
	sign := func(op, body string) *http.Request {
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080/"+op, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256([]byte(body))
		signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret"}, r, hex.EncodeToString(sum[:]), "ivs", "us-east-1", time.Now())
		return r
	}
	do := func(r *http.Request, body string) *httptest.ResponseRecorder {
		r.Body = io.NopCloser(strings.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var arns []string
	for i := 0; i < 10000; i++ {
		body := fmt.Sprintf(`{"name":"c%d"}`, i)
		w := do(sign("CreateChannel", body), body)
		if w.Code != 200 {
			b.Fatalf("CreateChannel: %d %s", w.Code, w.Body)
		}
		var out struct{ Channel struct{ Arn string } }
		json.Unmarshal(w.Body.Bytes(), &out)
		arns = append(arns, out.Channel.Arn)
	}
	for _, tc := range []struct{ op, body string }{
		{"GetChannel", `{"arn":"` + arns[5000] + `"}`},
		{"ListChannels", `{"maxResults":100}`},
	} {
		req := sign(tc.op, tc.body)
		b.Run(tc.op, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := req.Clone(ctx)
					if w := do(r, tc.body); w.Code != 200 {
						b.Fatalf("%s: %d %s", tc.op, w.Code, w.Body)
					}
				}
			})
		})
	}
}

// BenchmarkCreateChannel measures CreateChannel in process, the write path: one SQLite transaction per call.
func BenchmarkCreateChannel(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.OpenWithOptions(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{CacheEntries: cacheEntries}, log)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := config.Config{PublicURL: "http://127.0.0.1:8080", RTMPSAddr: "127.0.0.1:4443", SRTAddr: "127.0.0.1:9000",
		DataDir: b.TempDir(), Region: "us-east-1", AccountID: "123456789012", Auth: config.AuthOpen, QuotaChannels: 1 << 30,
		QuotaPlaybackKeyPairs: 3, QuotaRecordingConfigurations: 20, QuotaPlaybackRestrictionPolicies: 20, QuotaAdConfigurations: 20}
	h, _, err := newAPI(ctx, cfg, st, config.Credentials{}, ivs.Offline{}, log, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 concurrent callers, as the load test runs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", "http://127.0.0.1:8080/CreateChannel", strings.NewReader(`{"name":"bench"}`))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("CreateChannel: %d %s", w.Code, w.Body)
			}
		}
	})
}
