package store

import (
	"context"
	"time"
)

// OutboxEntry is one payload in an Outbox.
type OutboxEntry struct {
	Seq     int64     // assigned by Append; strictly increasing across the outbox, never reused
	Payload []byte    // exactly the bytes appended (never nil after a read)
	Created time.Time // when it was appended, UTC, microsecond precision
}

// Outbox is a durable, ordered log of opaque payloads (EventBridge-shaped events, for internal/events) read by
// named sinks, each with its own cursor: the highest Seq it has acknowledged. It gives at-least-once delivery: an
// entry stays until every sink that still reads it has acknowledged it, across crashes and restarts.
//
// A sink's cursor is created by Register at the current end of the log, so a sink added to the configuration
// receives the entries appended after it was first registered, not the history other sinks left behind.
type Outbox interface {
	// Append stores payload durably (it survives a crash once Append has returned) and returns its Seq.
	Append(ctx context.Context, payload []byte) (seq int64, err error)
	// Register creates the sink's cursor, unless it exists, just after the last entry, and returns the cursor.
	// It is idempotent; call it before the first Append meant for the sink.
	Register(ctx context.Context, sink string) (cursor int64, err error)
	// Pending returns, in Seq order, at most limit (<= 0: all) entries after the sink's cursor. A sink without a
	// cursor (never registered) reads from the beginning.
	Pending(ctx context.Context, sink string, limit int) ([]OutboxEntry, error)
	// Ack moves the sink's cursor to seq: every entry with Seq <= seq is delivered to it. A cursor never moves
	// back: acknowledging a lower seq than the cursor is a no-op.
	Ack(ctx context.Context, sink string, seq int64) error
	// Prune deletes the entries every one of sinks has acknowledged and returns how many it deleted. A sink
	// without a cursor has acknowledged nothing; with no sinks, Prune deletes nothing.
	Prune(ctx context.Context, sinks []string) (deleted int64, err error)
}
