package events

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEventBridge decodes PutEvents requests as the real service receives them from the SDK (awsJson1.1, SigV4)
// and answers like EventBridge. refuse says, per entry, which ones to fail (with an entry error) and status, per
// call, whether to fail the whole call with an HTTP error.
type fakeEventBridge struct {
	t      *testing.T
	mu     sync.Mutex
	calls  int
	refuse func(call int, detail map[string]any) bool
	status func(call int) int
	got    []map[string]any // accepted entries, in order
	sizes  []int
}

type putEntry struct {
	Source       string
	DetailType   string
	Detail       string
	Resources    []string
	Time         *float64
	EventBusName string
}

func (f *fakeEventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-Amz-Target"); got != "AWSEvents.PutEvents" {
		t.Errorf("X-Amz-Target %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", got)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+testAWSKey+"/") ||
		!strings.Contains(auth, "/eu-west-1/events/aws4_request") {
		t.Errorf("Authorization %q", auth)
	}
	checkNoSecrets(t, "the request headers", fmt.Sprint(r.Header))
	var in struct{ Entries []putEntry }
	if err := json.Unmarshal(body, &in); err != nil {
		t.Errorf("body %s: %v", body, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.sizes = append(f.sizes, len(in.Entries))
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", fmt.Sprint("req-", f.calls))
	if f.status != nil {
		if st := f.status(f.calls); st != http.StatusOK {
			w.WriteHeader(st)
			fmt.Fprint(w, `{"__type":"InternalException","message":"try again"}`)
			return
		}
	}
	type result struct {
		EventId      string `json:",omitempty"`
		ErrorCode    string `json:",omitempty"`
		ErrorMessage string `json:",omitempty"`
	}
	out := struct {
		FailedEntryCount int
		Entries          []result
	}{}
	for i, e := range in.Entries {
		if e.Source != "aws.ivs" || e.EventBusName != "ivs-events" || e.DetailType == "" || e.Time == nil ||
			len(e.Resources) != 1 {
			t.Errorf("entry %d: %+v", i, e)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			t.Errorf("entry %d detail %q: %v", i, e.Detail, err)
		}
		d["_time"] = *e.Time
		d["_resources"] = e.Resources
		d["_type"] = e.DetailType
		if f.refuse != nil && f.refuse(f.calls, d) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: "InternalFailure", ErrorMessage: "Internal Failure"})
			continue
		}
		out.Entries = append(out.Entries, result{EventId: fmt.Sprintf("%08d-0000-0000-0000-000000000000", len(f.got))})
		f.got = append(f.got, d)
	}
	json.NewEncoder(w).Encode(out)
}

func newFakeEventBridge(t *testing.T) (*fakeEventBridge, *EventBridgeSink) {
	f := &fakeEventBridge{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	sinks, err := NewSinks(SinkConfig{EventBridgeBus: "ivs-events", EventBridgeEndpoint: srv.URL,
		EventBridgeRegion: "eu-west-1", EventBridgeAccessKeyID: testAWSKey, EventBridgeSecretAccessKey: testAWSSec,
		EventBridgeTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return f, sinks[0].(*EventBridgeSink)
}

func streamIDs(ds []map[string]any) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d["stream_id"].(string))
	}
	return out
}

// TestEventBridgePutEvents: the entries carry the event (source, detail-type, detail, resources, time), 10 per
// call; a refused entry stops the batch at its index.
func TestEventBridgePutEvents(t *testing.T) {
	f, sink := newFakeEventBridge(t)
	var evs []Event
	var want []string
	for i := range 23 {
		e := testEvent(i)
		e.Time = time.Date(2025, 4, 23, 6, 36, i, 0, time.UTC)
		evs = append(evs, e)
		want = append(want, fmt.Sprint("st-", i))
	}
	n, err := sink.Deliver(t.Context(), evs)
	if n != 23 || err != nil {
		t.Fatalf("Deliver = %d, %v", n, err)
	}
	if !slices.Equal(f.sizes, []int{10, 10, 3}) {
		t.Errorf("PutEvents sizes %v, want [10 10 3]", f.sizes)
	}
	if got := streamIDs(f.got); !slices.Equal(got, want) {
		t.Errorf("entries %v", got)
	}
	d := f.got[5]
	if d["_type"] != TypeStreamStateChange || d["event_name"] != "Stream Start" ||
		!slices.Equal(d["_resources"].([]string), evs[5].Resources) ||
		math.Abs(d["_time"].(float64)-float64(evs[5].Time.Unix())) > 0.001 {
		t.Errorf("entry 5: %v", d)
	}

	// Partial failure: entry 13 (the 4th of the second call) is refused once, then put again alone.
	f.got, f.sizes, f.calls = nil, nil, 0
	refusals := 0
	f.refuse = func(_ int, d map[string]any) bool {
		if d["stream_id"] == "st-13" && refusals < 1 {
			refusals++
			return true
		}
		return false
	}
	n, err = sink.Deliver(t.Context(), evs)
	if n != 23 || err != nil {
		t.Errorf("Deliver with entry 13 refused once = %d, %v", n, err)
	}
	if !slices.Equal(f.sizes, []int{10, 10, 1, 3}) {
		t.Errorf("PutEvents sizes %v, want [10 10 1 3]", f.sizes)
	}
	wantOrder := slices.Concat(want[:13], want[14:20], want[13:14], want[20:])
	if got := streamIDs(f.got); !slices.Equal(got, wantOrder) {
		t.Errorf("entries %v\nwant %v", got, wantOrder)
	}

	// Refused every time: the events before it are delivered.
	f.got, f.sizes, f.calls = nil, nil, 0
	f.refuse = func(_ int, d map[string]any) bool { return d["stream_id"] == "st-13" }
	n, err = sink.Deliver(t.Context(), evs)
	if n != 13 || err == nil || !strings.Contains(err.Error(), "InternalFailure") || !strings.Contains(err.Error(), evs[13].ID) {
		t.Errorf("Deliver with entry 13 always refused = %d, %v; want 13 and its error", n, err)
	}
	if !slices.Equal(f.sizes, []int{10, 10, 1, 1}) {
		t.Errorf("PutEvents sizes %v, want [10 10 1 1]", f.sizes)
	}
	checkNoSecrets(t, "the error", fmt.Sprint(err))

	// A failed call delivers nothing of its chunk.
	f.refuse = nil
	f.status = func(call int) int { return http.StatusInternalServerError }
	n, err = sink.Deliver(t.Context(), evs[:3])
	if n != 0 || err == nil {
		t.Errorf("Deliver with HTTP 500 = %d, %v", n, err)
	}
}

// TestEventBridgeThroughBus: with entries refused (FailedEntryCount > 0) and whole calls failing, every event
// reaches the bus; events never refused arrive in order.
func TestEventBridgeThroughBus(t *testing.T) {
	noLeak(t)
	f, sink := newFakeEventBridge(t)
	refused := map[string]int{}
	limit := map[string]int{"st-7": 2, "st-18": 4} // st-18 outlasts the sink's own retries: the Bus retries it
	f.refuse = func(_ int, d map[string]any) bool {
		id := d["stream_id"].(string)
		if refused[id] < limit[id] {
			refused[id]++
			return true
		}
		return false
	}
	f.status = func(call int) int {
		if call == 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	opts := fastOpts()
	opts.BatchSize = 25
	b := NewBusWithOptions(s, []Sink{sink}, nil, opts)
	var want []string
	for i := range 30 {
		if err := b.Publish(t.Context(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint("st-", i))
	}
	firsts := func() []string {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []string
		seen := map[string]bool{}
		for _, id := range streamIDs(f.got) {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
		return out
	}
	waitFor(t, "all events on the bus", func() bool { return len(firsts()) == 30 })
	closeBus(t, b)
	got := firsts()
	slices.Sort(got)
	sorted := slices.Clone(want)
	slices.Sort(sorted)
	if !slices.Equal(got, sorted) {
		t.Errorf("arrived %v", got)
	}
	inOrder := slices.DeleteFunc(firsts(), func(id string) bool { return limit[id] > 0 })
	if wantInOrder := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return limit[id] > 0 }); !slices.Equal(inOrder, wantInOrder) {
		t.Errorf("events never refused arrived out of order:\n%v\nwant %v", inOrder, wantInOrder)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if refused["st-7"] != 2 || refused["st-18"] != 4 {
		t.Errorf("refusals %v: the partial failures did not happen", refused)
	}
	t.Logf("%d PutEvents calls, %d entries accepted for 30 events", f.calls, len(f.got))
}
