package events

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/store"
	"github.com/openivs/openivs/internal/store/sqlite"
)

// noLeak fails the test if goroutines started during it are still running when it ends (after the cleanups
// registered later, which run first).
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutine leak: %d before, %d after:\n%s", before, runtime.NumGoroutine(),
					buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.OpenWithOptions(context.Background(), path, sqlite.Options{Synchronous: "OFF"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// recorder collects what a sink received, across Bus lifetimes.
type recorder struct {
	mu    sync.Mutex
	got   []string // event ids in delivery order, duplicates included
	runs  []int    // len(got) when each Bus started delivering to it
	calls []time.Time
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, id := range r.got {
		seen[id] = true
	}
	return len(seen)
}

// testSink is a Sink whose behaviour a test scripts: policy returns how many of the batch to accept (the rest
// fail). A nil policy accepts everything.
type testSink struct {
	name   string
	rec    *recorder
	policy func(call int, evs []Event) int
	call   int
}

func (s *testSink) Name() string { return s.name }

func (s *testSink) Deliver(ctx context.Context, evs []Event) (int, error) {
	s.call++
	s.rec.mu.Lock()
	s.rec.calls = append(s.rec.calls, time.Now())
	s.rec.mu.Unlock()
	n := len(evs)
	if s.policy != nil {
		n = s.policy(s.call, evs)
	}
	s.rec.mu.Lock()
	for _, e := range evs[:n] {
		s.rec.got = append(s.rec.got, e.ID)
	}
	s.rec.mu.Unlock()
	if err := ctx.Err(); err != nil { // received, but the Bus will not know
		return 0, err
	}
	if n < len(evs) {
		return n, fmt.Errorf("scripted failure after %d of %d", n, len(evs))
	}
	return n, nil
}

func fastOpts() BusOptions {
	return BusOptions{BatchSize: 7, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		PollInterval: time.Second, PruneInterval: 50 * time.Millisecond}
}

func testEvent(i int) Event {
	return StreamStart(Origin{Account: "123456789012", Region: "us-west-2"},
		Stream{ChannelARN: "arn:aws:ivs:us-west-2:123456789012:channel/AbCdef1G2hij", StreamID: fmt.Sprint("st-", i)})
}

func publishN(t *testing.T, b *Bus, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		e := testEvent(i)
		if err := b.Publish(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closeBus(t *testing.T, b *Bus) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestBusDeliversInOrder(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	a, c := &recorder{}, &recorder{}
	b := NewBusWithOptions(s, []Sink{&testSink{name: "a", rec: a}, &testSink{name: "c", rec: c}}, nil, fastOpts())
	ids := publishN(t, b, 40)
	waitFor(t, "deliveries", func() bool { return len(a.ids()) >= 40 && len(c.ids()) >= 40 })
	if !slices.Equal(a.ids(), ids) || !slices.Equal(c.ids(), ids) {
		t.Errorf("delivered out of order or twice:\na %v\nc %v\nwant %v", a.ids(), c.ids(), ids)
	}
	waitFor(t, "pruning", func() bool {
		es, err := s.Pending(t.Context(), "nobody", 0)
		return err == nil && len(es) == 0
	})
	closeBus(t, b)
	closeBus(t, b) // twice: no-op
	if err := b.Publish(t.Context(), testEvent(0)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

func TestBusConcurrentPublishers(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	rec := &recorder{}
	b := NewBusWithOptions(s, []Sink{&testSink{name: "a", rec: rec}}, nil, fastOpts())
	const writers, each = 4, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	byWriter := map[int][]string{}
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := testEvent(i)
				if err := b.Publish(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				byWriter[w] = append(byWriter[w], e.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	waitFor(t, "deliveries", func() bool { return len(rec.ids()) >= writers*each })
	closeBus(t, b)
	got := rec.ids()
	if len(got) != writers*each {
		t.Fatalf("%d deliveries, want %d", len(got), writers*each)
	}
	pos := map[string]int{}
	for i, id := range got {
		pos[id] = i
	}
	for w, ids := range byWriter { // each publisher's events arrive in the order it published them
		for i := 1; i < len(ids); i++ {
			if pos[ids[i]] <= pos[ids[i-1]] {
				t.Errorf("writer %d: event %d delivered before event %d", w, i, i-1)
			}
		}
	}
}

// TestBusRetriesWithBackoff: a sink that fails its first calls gets the events after retries whose delays grow.
func TestBusRetriesWithBackoff(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	rec := &recorder{}
	sink := &testSink{name: "a", rec: rec, policy: func(call int, evs []Event) int {
		if call <= 5 {
			return 0
		}
		return len(evs)
	}}
	opts := fastOpts()
	opts.MinBackoff, opts.MaxBackoff = 20*time.Millisecond, 80*time.Millisecond
	b := NewBusWithOptions(s, []Sink{sink}, nil, opts)
	ids := publishN(t, b, 3)
	waitFor(t, "deliveries", func() bool { return len(rec.ids()) >= 3 })
	closeBus(t, b)
	if !slices.Equal(rec.ids(), ids) {
		t.Errorf("got %v, want %v", rec.ids(), ids)
	}
	rec.mu.Lock()
	calls := slices.Clone(rec.calls)
	rec.mu.Unlock()
	if len(calls) < 6 {
		t.Fatalf("%d calls, want >= 6", len(calls))
	}
	// Delays before retries 1..5: jittered in [d/2, d] for d = 20, 40, 80, 80, 80 ms.
	for i, lo := range []time.Duration{10, 20, 40, 40, 40} {
		if gap := calls[i+1].Sub(calls[i]); gap < lo*time.Millisecond-2*time.Millisecond {
			t.Errorf("retry %d after %v, want >= %v", i+1, gap, lo*time.Millisecond)
		}
	}
}

func TestBackoff(t *testing.T) {
	bo := backoff{min: 100 * time.Millisecond, max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for round := range 2 {
		for i, d := range want {
			d *= time.Millisecond
			for range 20 {
				saved := bo.cur
				got := bo.next()
				if got < d/2 || got > d {
					t.Fatalf("round %d, retry %d: %v not in [%v, %v]", round, i, got, d/2, d)
				}
				bo.cur = saved
			}
			bo.next()
		}
		bo.reset()
	}
}

// TestBusAtLeastOnceAcrossRestart kills delivery half-way (one sink failing part of its batches, another always
// failing, the Bus closed with deliveries in flight, the store closed), then starts a new Bus on the reopened
// store with healthy sinks: every event arrives at every sink, first deliveries in publication order, some maybe
// twice, none lost.
func TestBusAtLeastOnceAcrossRestart(t *testing.T) {
	noLeak(t)
	path := filepath.Join(t.TempDir(), "s.db")
	s1, err := sqlite.Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	flaky, down := &recorder{}, &recorder{}
	release := make(chan struct{})
	sinks := []Sink{
		&testSink{name: "flaky", rec: flaky, policy: func(call int, evs []Event) int {
			if call%3 == 0 {
				return len(evs) / 2 // partial failure
			}
			if flaky.distinct() >= 20 {
				<-release // a delivery in flight when the Bus is closed: received, but never acknowledged
			}
			return len(evs)
		}},
		&testSink{name: "down", rec: down, policy: func(int, []Event) int { return 0 }},
	}
	b1 := NewBusWithOptions(s1, sinks, nil, fastOpts())
	ids := publishN(t, b1, 60)
	waitFor(t, "some deliveries", func() bool { return flaky.distinct() >= 20 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	go func() { <-ctx.Done(); close(release) }()
	if err := b1.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("forced Close = %v, want DeadlineExceeded", err)
	}
	cancel()
	run1 := len(flaky.ids())
	if run1 >= 60 || len(down.ids()) != 0 {
		t.Fatalf("first run delivered %d (flaky), %d (down): want a partial delivery", run1, len(down.ids()))
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, path)
	b2 := NewBusWithOptions(s2, []Sink{&testSink{name: "flaky", rec: flaky}, &testSink{name: "down", rec: down}},
		nil, fastOpts())
	waitFor(t, "all deliveries", func() bool { return flaky.distinct() == 60 && down.distinct() == 60 })
	closeBus(t, b2)

	for name, r := range map[string]*recorder{"flaky": flaky, "down": down} {
		got := r.ids()
		var first []string
		seen := map[string]bool{}
		for _, id := range got {
			if !seen[id] {
				seen[id] = true
				first = append(first, id)
			}
		}
		if !slices.Equal(first, ids) {
			t.Errorf("%s: first deliveries not in publication order or incomplete:\n%v\nwant %v", name, first, ids)
		}
		// Within one Bus, no event is delivered twice and the order is publication order.
		idx := map[string]int{}
		for i, id := range ids {
			idx[id] = i
		}
		split := 0
		if name == "flaky" {
			split = run1
		}
		for _, part := range [][]string{got[:split], got[split:]} {
			for i := 1; i < len(part); i++ {
				if idx[part[i]] <= idx[part[i-1]] {
					t.Errorf("%s: within a run, %d delivered after %d", name, idx[part[i]], idx[part[i-1]])
				}
			}
		}
		t.Logf("%s: %d deliveries of %d events (%d in the first run)", name, len(got), len(ids), split)
	}
	if es, err := s2.Pending(t.Context(), "nobody", 0); err != nil || len(es) != 0 {
		t.Errorf("outbox not pruned after every sink caught up: %d entries, %v", len(es), err)
	}
}

// TestBusCloseDrains: Close lets each sink deliver what is pending before it returns.
func TestBusCloseDrains(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	rec := &recorder{}
	slow := &testSink{name: "slow", rec: rec, policy: func(_ int, evs []Event) int {
		time.Sleep(2 * time.Millisecond)
		return len(evs)
	}}
	opts := fastOpts()
	opts.BatchSize = 2
	b := NewBusWithOptions(s, []Sink{slow}, nil, opts)
	ids := publishN(t, b, 20)
	closeBus(t, b)
	if !slices.Equal(rec.ids(), ids) {
		t.Errorf("after Close: %d of %d delivered", len(rec.ids()), len(ids))
	}
	if es, err := s.Pending(t.Context(), "nobody", 0); err != nil || len(es) != 0 {
		t.Errorf("outbox not pruned by Close: %d entries, %v", len(es), err)
	}
}

// blockingSink blocks in Deliver until its context ends.
type blockingSink struct{ entered chan struct{} }

func (blockingSink) Name() string { return "blocking" }

func (s blockingSink) Deliver(ctx context.Context, evs []Event) (int, error) {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestBusCloseCancelsBlockedSink: a sink stuck in Deliver does not stop Close past its context, and no
// goroutine is left behind.
func TestBusCloseCancelsBlockedSink(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	sink := blockingSink{entered: make(chan struct{}, 1)}
	b := NewBusWithOptions(s, []Sink{sink}, nil, fastOpts())
	publishN(t, b, 1)
	<-sink.entered
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := b.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if es, _ := s.Pending(t.Context(), "blocking", 0); len(es) != 1 {
		t.Errorf("undelivered event not kept: %d pending", len(es))
	}
}

// TestBusNewSinkStartsAtEnd: a sink added to the configuration receives the events published after it joined,
// not the history.
func TestBusNewSinkStartsAtEnd(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	old, nu := &recorder{}, &recorder{}
	b := NewBusWithOptions(s, []Sink{&testSink{name: "old", rec: old, policy: func(int, []Event) int { return 0 }}},
		nil, fastOpts())
	before := publishN(t, b, 3)
	closeBus(t, b)
	b = NewBusWithOptions(s, []Sink{&testSink{name: "old", rec: old}, &testSink{name: "new", rec: nu}}, nil,
		fastOpts())
	after := publishN(t, b, 2) // published at once: the new sink is registered before the first one is stored
	waitFor(t, "deliveries", func() bool { return len(old.ids()) >= 5 && len(nu.ids()) >= 2 })
	closeBus(t, b)
	if want := append(slices.Clone(before), after...); !slices.Equal(old.ids(), want) {
		t.Errorf("old sink: %v, want %v", old.ids(), want)
	}
	if !slices.Equal(nu.ids(), after) {
		t.Errorf("new sink: %v, want %v", nu.ids(), after)
	}
}

// TestBusSkipsUndecodableEntries: a corrupted payload is skipped (and acknowledged), the events around it arrive.
func TestBusSkipsUndecodableEntries(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	if _, err := s.Register(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	e1, e2 := testEvent(1), testEvent(2)
	for _, p := range [][]byte{mustJSON(t, e1), []byte("garbage"), mustJSON(t, e2), []byte(`{"version":"0"}`)} {
		if _, err := s.Append(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	b := NewBusWithOptions(s, []Sink{&testSink{name: "a", rec: rec}}, nil, fastOpts())
	waitFor(t, "deliveries", func() bool { return len(rec.ids()) >= 2 })
	waitFor(t, "acknowledgement", func() bool {
		es, err := s.Pending(t.Context(), "a", 0)
		return err == nil && len(es) == 0
	})
	closeBus(t, b)
	if !slices.Equal(rec.ids(), []string{e1.ID, e2.ID}) {
		t.Errorf("got %v", rec.ids())
	}
}

func mustJSON(t *testing.T, e Event) []byte {
	t.Helper()
	b, err := e.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingOutbox fails every call until healed.
type failingOutbox struct {
	store.Outbox
	mu     sync.Mutex
	broken bool
}

func (o *failingOutbox) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.broken {
		return errors.New("disk on fire")
	}
	return nil
}

func (o *failingOutbox) Register(ctx context.Context, sink string) (int64, error) {
	if err := o.err(); err != nil {
		return 0, err
	}
	return o.Outbox.Register(ctx, sink)
}

func (o *failingOutbox) Append(ctx context.Context, p []byte) (int64, error) {
	if err := o.err(); err != nil {
		return 0, err
	}
	return o.Outbox.Append(ctx, p)
}

func (o *failingOutbox) Pending(ctx context.Context, sink string, limit int) ([]store.OutboxEntry, error) {
	if err := o.err(); err != nil {
		return nil, err
	}
	return o.Outbox.Pending(ctx, sink, limit)
}

// TestBusOutboxFailures: Publish reports an outbox failure; dispatchers retry reading until it recovers.
func TestBusOutboxFailures(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	o := &failingOutbox{Outbox: s, broken: true}
	rec := &recorder{}
	b := NewBusWithOptions(o, []Sink{&testSink{name: "a", rec: rec}}, nil, fastOpts())
	if err := b.Publish(t.Context(), testEvent(0)); err == nil {
		t.Error("Publish succeeded with a broken outbox")
	}
	time.Sleep(20 * time.Millisecond)
	o.mu.Lock()
	o.broken = false
	o.mu.Unlock()
	ids := publishN(t, b, 2)
	waitFor(t, "deliveries", func() bool { return len(rec.ids()) >= 2 })
	closeBus(t, b)
	if !slices.Equal(rec.ids(), ids) {
		t.Errorf("got %v, want %v", rec.ids(), ids)
	}
}

func TestBusNoSinks(t *testing.T) {
	noLeak(t)
	s := openStore(t, filepath.Join(t.TempDir(), "s.db"))
	b := NewBus(s, nil, nil)
	if err := b.Publish(t.Context(), testEvent(0)); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.Pending(t.Context(), "x", 0); len(es) != 0 {
		t.Errorf("a Bus without sinks stored %d events", len(es))
	}
	if err := b.Publish(t.Context(), Event{}); err == nil {
		t.Error("Publish of an event without id succeeded")
	}
	closeBus(t, b)
}

func TestBusDuplicateSinkNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for duplicate sink names")
		}
	}()
	NewBus(nil, []Sink{&testSink{name: "a"}, &testSink{name: "a"}}, nil)
}
