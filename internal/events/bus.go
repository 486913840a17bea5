package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/store"
)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("events: bus closed")

// Publisher is what producers of events (ingest, live, record, realtime) need: *Bus implements it, Discard
// drops everything.
type Publisher interface {
	Publish(ctx context.Context, e Event) error
}

// Discard is a Publisher that drops every event (events disabled, or tests).
var Discard Publisher = discard{}

type discard struct{}

func (discard) Publish(context.Context, Event) error { return nil }

var _ Publisher = (*Bus)(nil)

// Sink is a destination of events.
type Sink interface {
	// Name identifies the sink's cursor in the outbox: stable across restarts and unique within a Bus. Renaming a
	// sink makes it a new one, which starts with the events published after it first runs.
	Name() string
	// Deliver sends events, in order, and returns how many of them, from the first, the destination has
	// accepted. When that is less than len(events) the error says why, and the Bus retries from the first event
	// not accepted (after a backoff). The Bus calls Deliver from one goroutine per sink, never concurrently.
	Deliver(ctx context.Context, events []Event) (int, error)
}

// BusOptions tune a Bus. The zero value is the default.
type BusOptions struct {
	BatchSize     int           // at most this many events per Deliver (default 100)
	MinBackoff    time.Duration // first retry delay after a failed delivery (default 500ms)
	MaxBackoff    time.Duration // retry delays double up to this (default 1m); each is jittered to [d/2, d]
	PollInterval  time.Duration // how often an idle sink re-reads the outbox without being woken (default 10s)
	PruneInterval time.Duration // how often entries every sink acknowledged are deleted (default 1m)
}

func (o *BusOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.PollInterval <= 0 {
		o.PollInterval = 10 * time.Second
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = time.Minute
	}
}

// Bus publishes events to an outbox and delivers them from there to its sinks: at least once, in publication
// order per sink, retrying a failing sink with capped exponential backoff and never dropping an event. One
// goroutine per sink delivers; after a crash or a restart each sink resumes from its cursor in the outbox, so an
// event may reach a sink twice (the event id is the same) but is never lost once Publish has returned.
type Bus struct {
	outbox store.Outbox
	sinks  []Sink
	names  []string
	wakes  []chan struct{} // one per sink, capacity 1: "the outbox has new entries"
	log    *slog.Logger
	opts   BusOptions

	ctx    context.Context // the goroutines' context, canceled when Close gives up waiting
	cancel context.CancelFunc
	drain  chan struct{} // closed by Close: deliver what is pending, then stop
	wg     sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	registered bool // every sink has a cursor (Publish ensures it before its first Append)
}

// NewBus starts a Bus with default options. See NewBusWithOptions.
func NewBus(outbox store.Outbox, sinks []Sink, log *slog.Logger) *Bus {
	return NewBusWithOptions(outbox, sinks, log, BusOptions{})
}

// NewBusWithOptions starts a Bus delivering the events of outbox to sinks, one goroutine per sink plus one that
// prunes delivered entries; Close stops them. log may be nil. Sink names must be unique (it panics otherwise).
// With no sinks, Publish stores nothing.
func NewBusWithOptions(outbox store.Outbox, sinks []Sink, log *slog.Logger, opts BusOptions) *Bus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	b := &Bus{outbox: outbox, sinks: sinks, log: log, opts: opts, ctx: ctx, cancel: cancel,
		drain: make(chan struct{})}
	seen := map[string]bool{}
	for _, s := range sinks {
		n := s.Name()
		if n == "" || seen[n] {
			panic(fmt.Sprintf("events: sink name %q is empty or used twice", n))
		}
		seen[n] = true
		b.names = append(b.names, n)
		b.wakes = append(b.wakes, make(chan struct{}, 1))
	}
	for i := range sinks {
		b.wg.Go(func() { b.dispatch(i) })
	}
	if len(sinks) > 0 {
		b.wg.Go(b.prune)
	}
	return b
}

// Publish stores e in the outbox and returns once it is durable; the sinks then deliver it. It fails (and the
// event is not stored) only if the outbox cannot store it, ctx ends first, or the Bus is closed. An event
// published while Close runs may be left to the next Bus on the same outbox. Publish is safe for concurrent use;
// a sink receives the events in the order their Publish calls stored them.
func (b *Bus) Publish(ctx context.Context, e Event) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if e.ID == "" || e.DetailType == "" {
		return errors.New("events: publish: event without id or detail-type")
	}
	if len(b.sinks) == 0 {
		return nil
	}
	payload, err := e.JSON()
	if err != nil {
		return fmt.Errorf("events: publish: %w", err)
	}
	if err := b.register(ctx); err != nil {
		return fmt.Errorf("events: publish: %w", err)
	}
	seq, err := b.outbox.Append(ctx, payload)
	if err != nil {
		return fmt.Errorf("events: publish: %w", err)
	}
	b.log.Debug("events: published", "seq", seq, "id", e.ID, "detail_type", e.DetailType,
		"event_name", e.EventName())
	for _, w := range b.wakes {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	return nil
}

// register makes sure every sink has a cursor before the first event this Bus appends: a sink new to the outbox
// starts at its end, and must not start after an event published for it.
func (b *Bus) register(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.registered {
		return nil
	}
	for _, n := range b.names {
		if _, err := b.outbox.Register(ctx, n); err != nil {
			return err
		}
	}
	b.registered = true
	return nil
}

// Close stops the Bus: Publish fails from then on, each sink gets to deliver what is pending (without retrying a
// failure), and Close returns when every goroutine has stopped. If ctx ends first, deliveries in progress are
// canceled, Close waits for the goroutines to stop and returns ctx's error. Events not delivered stay in the
// outbox for the next Bus. Closing twice is a no-op.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	close(b.drain)
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
		if len(b.sinks) > 0 {
			b.pruneOnce(ctx)
		}
	case <-ctx.Done():
		err = ctx.Err()
		b.cancel()
		<-done
	}
	b.cancel()
	return err
}

// backoff computes retry delays: doubling from min to max, each jittered to [d/2, d].
type backoff struct {
	min, max, cur time.Duration
}

func (bo *backoff) next() time.Duration {
	if bo.cur == 0 {
		bo.cur = bo.min
	} else {
		bo.cur = min(2*bo.cur, bo.max)
	}
	return bo.cur/2 + rand.N(bo.cur/2+1)
}

func (bo *backoff) reset() { bo.cur = 0 }

// sleep waits d; false when the Bus is stopping instead (canceled, or draining: no retries then).
func (b *Bus) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.ctx.Done():
		return false
	case <-b.drain:
		return false
	}
}

func (b *Bus) draining() bool {
	select {
	case <-b.drain:
		return true
	default:
		return false
	}
}

// dispatch delivers the pending events of sink i until the Bus stops.
func (b *Bus) dispatch(i int) {
	sink, name, wake := b.sinks[i], b.names[i], b.wakes[i]
	log := b.log.With("sink", name)
	ctx := b.ctx
	bo := backoff{min: b.opts.MinBackoff, max: b.opts.MaxBackoff}
	for {
		_, err := b.outbox.Register(ctx, name)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d := bo.next()
		log.Warn("events: cannot read the outbox cursor; retrying", "err", err, "retry_in", d)
		if !b.sleep(d) {
			return
		}
	}
	bo.reset()
	poll := time.NewTimer(b.opts.PollInterval)
	defer poll.Stop()
	for {
		draining := b.draining()
		entries, err := b.outbox.Pending(ctx, name, b.opts.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d := bo.next()
			log.Warn("events: cannot read the outbox; retrying", "err", err, "retry_in", d)
			if !b.sleep(d) {
				return
			}
			continue
		}
		if len(entries) == 0 {
			if draining {
				return
			}
			poll.Reset(b.opts.PollInterval)
			select {
			case <-wake:
			case <-poll.C:
			case <-b.drain:
			case <-ctx.Done():
				return
			}
			continue
		}
		n, err := b.deliver(ctx, log, sink, entries)
		if n == len(entries) {
			bo.reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		d := bo.next()
		log.Warn("events: delivery failed; retrying", "err", err, "delivered", n, "pending", len(entries)-n,
			"retry_in", d)
		if !b.sleep(d) {
			return
		}
	}
}

// deliver hands entries to the sink and acknowledges what it accepted; it returns how many entries are done
// (delivered, or skipped as undecodable) from the first.
func (b *Bus) deliver(ctx context.Context, log *slog.Logger, sink Sink, entries []store.OutboxEntry) (int, error) {
	evs := make([]Event, 0, len(entries))
	at := make([]int, 0, len(entries)) // at[j]: index in entries of evs[j]
	for i, e := range entries {
		ev, err := Decode(e.Payload)
		if err != nil {
			// Only a corrupted database can hold one; it can never be delivered, so it is skipped.
			log.Error("events: skipping an undecodable outbox entry", "seq", e.Seq, "err", err)
			continue
		}
		evs = append(evs, ev)
		at = append(at, i)
	}
	var n int
	var err error
	if len(evs) > 0 {
		n, err = sink.Deliver(ctx, evs)
		n = max(0, min(n, len(evs)))
		if n < len(evs) && err == nil {
			err = errors.New("the sink accepted only part of the batch")
		}
	}
	done := len(entries) // entries before the first event not delivered
	if n < len(evs) {
		done = at[n]
	}
	if done > 0 {
		// Acknowledge even when stopping: a lost Ack only means the events are delivered again.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		aerr := b.outbox.Ack(actx, sink.Name(), entries[done-1].Seq)
		cancel()
		if aerr != nil {
			log.Warn("events: cannot record a delivery; its events will be delivered again", "err", aerr,
				"seq", entries[done-1].Seq)
		}
		log.Debug("events: delivered", "events", n, "through_seq", entries[done-1].Seq)
	}
	return done, err
}

// prune deletes delivered entries periodically until the Bus drains (Close prunes once more at the end).
func (b *Bus) prune() {
	t := time.NewTicker(b.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.pruneOnce(b.ctx)
		case <-b.drain:
			return
		case <-b.ctx.Done():
			return
		}
	}
}

func (b *Bus) pruneOnce(ctx context.Context) {
	n, err := b.outbox.Prune(ctx, b.names)
	switch {
	case err != nil && ctx.Err() == nil:
		b.log.Warn("events: cannot prune the outbox", "err", err)
	case n > 0:
		b.log.Debug("events: pruned the outbox", "entries", n)
	}
}
