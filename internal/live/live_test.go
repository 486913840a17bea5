package live

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
	ended  chan string
}

func (r *recorder) StreamStarted(context.Context, Snapshot) { r.add("started") }
func (r *recorder) StreamEvent(_ context.Context, _ Snapshot, name, _ string) {
	r.add(name)
}
func (r *recorder) StreamUpdated(context.Context, Snapshot) {}
func (r *recorder) StreamEnded(_ context.Context, _ Snapshot, reason string) {
	r.add("ended")
	r.ended <- reason
}
func (r *recorder) add(s string) { r.mu.Lock(); r.events = append(r.events, s); r.mu.Unlock() }
func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func newTestRegistry(t *testing.T, limits Limits) (*Registry, *clock, *recorder) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := &recorder{ended: make(chan string, 10)}
	r := NewRegistry(limits, rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.now = c.now
	t.Cleanup(r.Close)
	return r, c, rec
}

var ch = Channel{ARN: "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl", Account: "123456789012", Region: "us-east-1", ID: "abcdefghijkl"}

func waitEnded(t *testing.T, rec *recorder) string {
	t.Helper()
	select {
	case why := <-rec.ended:
		return why
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end")
		return ""
	}
}

func TestStarvationIdleAndMaxDuration(t *testing.T) {
	r, c, rec := newTestRegistry(t, DefaultLimits)
	var disconnects atomic.Int32
	s, err := r.Begin(ch, func() { disconnects.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if _, live := r.Stream(ch.ARN); live {
		t.Fatal("a stream is LIVE before its media is described")
	}
	s.Describe([]Video{{Codec: "avc1.64001F", Width: 1280, Height: 720}}, nil)
	if _, live := r.Stream(ch.ARN); live {
		t.Fatal("a stream is LIVE before its first segment is playable")
	}
	s.Playable()
	s.Playable() // once only
	s.SetViewers(7)
	if got, live := r.Stream(ch.ARN); !live || *got.StreamId == "" || string(*got.Health) != "HEALTHY" || *got.ViewerCount != 7 {
		t.Fatalf("Stream after Playable: %+v %v", got, live)
	}
	c.add(4 * time.Second) // past StarvationAfter
	waitFor(t, func() bool { got, _ := r.Stream(ch.ARN); return string(*got.Health) == "STARVING" })
	s.Media(1000)
	waitFor(t, func() bool { got, _ := r.Stream(ch.ARN); return string(*got.Health) == "HEALTHY" })
	c.add(31 * time.Second) // past IdleDisconnect
	if why := waitEnded(t, rec); why != "no media for 30s" {
		t.Fatalf("ended because %q", why)
	}
	if disconnects.Load() == 0 {
		t.Fatal("the encoder was not disconnected")
	}
	if _, live := r.Stream(ch.ARN); live {
		t.Fatal("still live after the idle disconnect")
	}
	want := []string{"started", EventStreamStart, EventStarvationStart, EventStarvationEnd, EventStarvationStart, EventStreamEnd, "ended"}
	if got := rec.list(); len(got) != len(want) || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] || got[len(got)-2] != want[len(want)-2] || got[len(got)-1] != "ended" {
		t.Fatalf("observer saw %v, want %v", got, want)
	}

	// A stream that keeps sending is cut at the maximum duration.
	s2, err := r.Begin(ch, func() {})
	if err != nil {
		t.Fatal(err)
	}
	s2.Describe(nil, nil)
	s2.Playable()
	s2.Media(100)
	c.add(48*time.Hour + time.Second)
	if why := waitEnded(t, rec); why != "maximum stream duration reached" {
		t.Fatalf("ended because %q", why)
	}
}

func TestBusyQuotaAndStop(t *testing.T) {
	limits := DefaultLimits
	limits.ConcurrentStreams = 2
	r, _, rec := newTestRegistry(t, limits)
	a, err := r.Begin(ch, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Begin(ch, func() {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second publisher on a channel: %v", err)
	}
	other := ch
	other.ARN, other.ID = ch.ARN[:len(ch.ARN)-1]+"X", "abcdefghijkX"
	if _, err := r.Begin(other, func() {}); err != nil {
		t.Fatal(err)
	}
	third := ch
	third.ARN = ch.ARN[:len(ch.ARN)-1] + "Y"
	if _, err := r.Begin(third, func() {}); !errors.Is(err, ErrQuota) {
		t.Fatalf("third stream with a quota of 2: %v", err)
	}
	otherAccount := third
	otherAccount.Account = "210987654321"
	if _, err := r.Begin(otherAccount, func() {}); err != nil {
		t.Fatalf("the quota is per account: %v", err)
	}
	a.Describe(nil, nil)
	if err := r.Stop(context.Background(), ch.ARN); err != nil {
		t.Fatal(err)
	}
	if why := waitEnded(t, rec); why != "StopStream" {
		t.Fatalf("ended because %q", why)
	}
	if err := r.Stop(context.Background(), ch.ARN); !errors.Is(err, ErrNotLive) {
		t.Fatalf("Stop of an offline channel: %v", err)
	}
	if err := r.PutMetadata(context.Background(), ch.ARN, "x"); !errors.Is(err, ErrNotLive) {
		t.Fatalf("PutMetadata of an offline channel: %v", err)
	}
}

// TestRefusedBeforeDescribed: a stream that ends before its media was described (refused, or the encoder left
// during the handshake) reports nothing: it never started.
func TestRefusedBeforeDescribed(t *testing.T) {
	r, _, rec := newTestRegistry(t, DefaultLimits)
	s, err := r.Begin(ch, func() {})
	if err != nil {
		t.Fatal(err)
	}
	s.End("refused")
	waitFor(t, func() bool { _, err := r.Begin(ch, func() {}); return err == nil })
	if got := rec.list(); len(got) != 0 {
		t.Fatalf("observer told about a stream that never started: %v", got)
	}
}

func TestCues(t *testing.T) {
	r, _, _ := newTestRegistry(t, DefaultLimits)
	s, err := r.Begin(ch, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PutMetadata(context.Background(), ch.ARN, "hello"); err != nil {
		t.Fatal(err)
	}
	id, err := r.InsertAdBreak(context.Background(), ch.ARN, 30*time.Second)
	if err != nil || len(id) != 12 {
		t.Fatalf("InsertAdBreak: %q %v", id, err)
	}
	for i := 0; i < maxPendingCues+5; i++ {
		r.PutMetadata(context.Background(), ch.ARN, "m")
	}
	cues := s.TakeCues()
	if len(cues) != maxPendingCues || len(s.TakeCues()) != 0 {
		t.Fatalf("%d cues kept (bound %d)", len(cues), maxPendingCues)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
	}
}

// TestFail: a stream that cannot be processed reports Stream Failure, is disconnected and ends.
func TestFail(t *testing.T) {
	r, _, rec := newTestRegistry(t, DefaultLimits)
	disconnected := make(chan struct{}, 1)
	s, err := r.Begin(ch, func() { disconnected <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	s.Describe(nil, nil)
	s.Playable()
	s.Fail("Stream processing failed. Please try again.")
	if why := waitEnded(t, rec); why != "stream failure: Stream processing failed. Please try again." {
		t.Fatalf("ended because %q", why)
	}
	<-disconnected
	got := rec.list()
	if len(got) < 4 || got[2] != EventStreamFailure || got[3] != EventStreamEnd {
		t.Fatalf("observer saw %v", got)
	}
}
