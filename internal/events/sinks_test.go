package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSecret   = "whsec-9f8e7d6c5b4a"
	testURLToken = "tok-0a1b2c3d4e5f"
	testAWSKey   = "AKIDEXAMPLE"
	testAWSSec   = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
)

// logBuffer is a concurrency-safe log destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func checkNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, secret := range []string{testSecret, testURLToken, testAWSSec} {
		if strings.Contains(s, secret) {
			t.Errorf("%s holds a secret (%q):\n%s", where, secret, s)
		}
	}
}

func TestLogSink(t *testing.T) {
	var buf logBuffer
	sink := NewLogSink(slog.New(slog.NewJSONHandler(&buf, nil)))
	evs := []Event{testEvent(1), AccountLimitBreach(Origin{Account: "123456789012", Region: "us-west-2"},
		Limit{Name: LimitConcurrentViewers, Unit: UnitViewers, Value: 1, ExceededBy: 2})}
	if n, err := sink.Deliver(t.Context(), evs); n != 2 || err != nil {
		t.Fatalf("Deliver = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] != "event" || m["id"] != evs[i].ID || m["detail_type"] != evs[i].DetailType ||
			m["detail"] != string(evs[i].Detail) || m["event_name"] != evs[i].EventName() {
			t.Errorf("line %d: %v", i, m)
		}
	}
}

// hookServer is a webhook receiver that checks signatures and answers with scripted statuses.
type hookServer struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	script func(attempt int, e Event) int // status to answer; nil: 204
	sleep  func(attempt int) time.Duration
	tries  map[string]int
	got    []string // ids of the events answered with 2xx, in order
	all    int
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/hook/"+testURLToken ||
		r.Header.Get("Content-Type") != "application/json" {
		h.t.Errorf("request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	sig := r.Header.Get(SignatureHeader)
	if h.secret != "" {
		if !Verify([]byte(h.secret), body, sig) || !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 {
			h.t.Errorf("bad signature %q", sig)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	} else if sig != "" {
		h.t.Errorf("signature %q without a secret", sig)
	}
	ts, err := strconv.ParseInt(r.Header.Get(TimestampHeader), 10, 64)
	if err != nil || math.Abs(float64(time.Now().Unix()-ts)) > 60 {
		h.t.Errorf("timestamp header %q", r.Header.Get(TimestampHeader))
	}
	e, err := Decode(body)
	if err != nil {
		h.t.Errorf("body %s: %v", body, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.Header.Get(EventIDHeader) != e.ID {
		h.t.Errorf("event id header %q, body id %q", r.Header.Get(EventIDHeader), e.ID)
	}
	h.mu.Lock()
	h.all++
	h.tries[e.ID]++
	attempt := h.tries[e.ID]
	h.mu.Unlock()
	if h.sleep != nil {
		select {
		case <-time.After(h.sleep(attempt)):
		case <-r.Context().Done():
			return
		}
	}
	status := http.StatusNoContent
	if h.script != nil {
		status = h.script(attempt, e)
	}
	if status >= 200 && status < 300 {
		h.mu.Lock()
		h.got = append(h.got, e.ID)
		h.mu.Unlock()
	}
	w.WriteHeader(status)
}

func (h *hookServer) ids() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func newHook(t *testing.T, secret string) (*hookServer, string) {
	h := &hookServer{t: t, secret: secret, tries: map[string]int{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hook/" + testURLToken
}

// TestWebhookThroughBus: signed posts, retries after 500s, timeouts and 4xx, in order, with no secret in the logs.
func TestWebhookThroughBus(t *testing.T) {
	noLeak(t)
	h, hookURL := newHook(t, testSecret)
	var evs []Event
	for i := range 12 {
		evs = append(evs, testEvent(i))
	}
	failing := evs[4].ID // answered 500 twice, then 404, then too slowly, then 202
	h.script = func(attempt int, e Event) int {
		if e.ID != failing {
			return http.StatusOK
		}
		switch attempt {
		case 1, 2:
			return http.StatusInternalServerError
		case 3:
			return http.StatusNotFound
		}
		return http.StatusAccepted
	}
	h.sleep = func(attempt int) time.Duration {
		if attempt == 4 {
			return 3 * time.Second // past the timeout: the sink gives up on this attempt
		}
		return 0
	}
	var logs logBuffer
	log := debugLogger(&logs)
	sinks, err := NewSinks(SinkConfig{WebhookURL: hookURL, WebhookSecret: testSecret,
		WebhookTimeout: 500 * time.Millisecond, Log: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	opts := fastOpts()
	opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	b := NewBusWithOptions(s, sinks, log, opts)
	var ids []string
	for _, e := range evs {
		if err := b.Publish(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	waitFor(t, "webhook deliveries", func() bool { return len(h.ids()) >= 12 })
	closeBus(t, b)
	// A request that timed out on a loaded machine after the receiver answered 2xx is sent again: compare the
	// first arrivals.
	if got := slices.Compact(h.ids()); !slices.Equal(got, ids) {
		t.Errorf("received %v\nwant %v", got, ids)
	}
	h.mu.Lock()
	tries := h.tries[failing]
	h.mu.Unlock()
	if tries < 5 {
		t.Errorf("failing event tried %d times, want 5 (500, 500, 404, timeout, 202)", tries)
	}
	out := logs.String()
	if !strings.Contains(out, "delivery failed") || !strings.Contains(out, "500 Internal Server Error") {
		t.Errorf("no retry logged:\n%s", out)
	}
	checkNoSecrets(t, "the log", out)
}

func TestWebhookUnsigned(t *testing.T) {
	h, hookURL := newHook(t, "")
	w, err := NewWebhookSink(hookURL, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := []Event{testEvent(1), testEvent(2)}
	if n, err := w.Deliver(t.Context(), evs); n != 2 || err != nil {
		t.Fatalf("Deliver = %d, %v", n, err)
	}
	if got := h.ids(); !slices.Equal(got, []string{evs[0].ID, evs[1].ID}) {
		t.Errorf("got %v", got)
	}
}

// TestWebhookErrors: a refused event stops the batch there; errors name the host, never the URL's token.
func TestWebhookErrors(t *testing.T) {
	h, hookURL := newHook(t, testSecret)
	evs := []Event{testEvent(1), testEvent(2), testEvent(3)}
	h.script = func(_ int, e Event) int {
		if e.ID == evs[1].ID {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	w, err := NewWebhookSink(hookURL, testSecret, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.Deliver(t.Context(), evs)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Deliver = %d, %v; want 1 and a 503 error", n, err)
	}
	checkNoSecrets(t, "the error", fmt.Sprint(err))

	// Connection refused: the url.Error's URL is redacted.
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL + "/hook/" + testURLToken
	srv.Close()
	w, err = NewWebhookSink(dead, testSecret, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err = w.Deliver(t.Context(), evs)
	if n != 0 || err == nil {
		t.Errorf("Deliver to a closed server = %d, %v", n, err)
	}
	checkNoSecrets(t, "the error", fmt.Sprint(err))
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("error does not name the host: %v", err)
	}
}

func TestSign(t *testing.T) {
	// printf '{"a":1}' | openssl dgst -sha256 -hmac secret
	const want = "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
	got := Sign([]byte("secret"), []byte(`{"a":1}`))
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if !Verify([]byte("secret"), []byte(`{"a":1}`), got) || Verify([]byte("other"), []byte(`{"a":1}`), got) ||
		Verify([]byte("secret"), []byte(`{"a":2}`), got) {
		t.Error("Verify does not match Sign")
	}
}

func TestNewSinksConfig(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if s, err := NewSinks(SinkConfig{}); err != nil || len(s) != 0 {
		t.Errorf("zero config: %v, %v", s, err)
	}
	s, err := NewSinks(SinkConfig{Log: true, WebhookURL: "https://hooks.example.com/x", WebhookSecret: "s",
		EventBridgeBus: "b", EventBridgeRegion: "eu-west-1", EventBridgeAccessKeyID: testAWSKey,
		EventBridgeSecretAccessKey: testAWSSec})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range s {
		names = append(names, x.Name())
	}
	if !slices.Equal(names, []string{"log", "webhook", "eventbridge"}) {
		t.Errorf("names %v", names)
	}
	for _, bad := range []SinkConfig{
		{WebhookURL: "ftp://x/y"},
		{WebhookURL: "/relative"},
		{WebhookURL: "http://%zz"},
		{WebhookSecret: "s"},
		{EventBridgeBus: "b", EventBridgeRegion: "us-east-1", EventBridgeAccessKeyID: "AKID"},
		{EventBridgeBus: "b", EventBridgeAccessKeyID: testAWSKey, EventBridgeSecretAccessKey: testAWSSec}, // no region
		{EventBridgeRegion: "us-east-1"},
	} {
		if s, err := NewSinks(bad); err == nil {
			t.Errorf("NewSinks(%v) = %v, want an error", bad, s)
		} else {
			checkNoSecrets(t, "the error", err.Error())
		}
	}
}

func TestSinkConfigHidesSecrets(t *testing.T) {
	cfg := SinkConfig{Log: true, WebhookURL: "https://hooks.example.com/hook/" + testURLToken + "?k=" + testURLToken,
		WebhookSecret: testSecret, EventBridgeBus: "b", EventBridgeAccessKeyID: testAWSKey,
		EventBridgeSecretAccessKey: testAWSSec, EventBridgeSessionToken: testSecret}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("start", "events", cfg)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "events", cfg)
	fmt.Fprintf(&buf, "%v %+v %#v %s", cfg, cfg, cfg, cfg)
	ec := EventBridgeConfig{AccessKeyID: testAWSKey, SecretAccessKey: testAWSSec, SessionToken: testSecret}
	fmt.Fprintf(&buf, "%v %+v %#v", ec, ec, ec)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("eb", "cfg", ec)
	checkNoSecrets(t, "the output", buf.String())
	if !strings.Contains(buf.String(), "https://hooks.example.com/…") || !strings.Contains(buf.String(), "webhook_secret=set") {
		t.Errorf("configuration not shown:\n%s", buf.String())
	}
}
