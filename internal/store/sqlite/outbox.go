package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/openivs/openivs/internal/store"
)

// The outbox (store.Outbox) lives in the same database file as the resources, on the same writer and readers: an
// Append is an Update, so it is as durable as any other write once it has returned (see the package comment on
// durability). Its statements are not in the per-connection prepared-statement cache of conn.go: events are a few
// per stream, not per request, and preparing a short statement costs a few microseconds.

var _ store.Outbox = (*Store)(nil)

const (
	qOutboxAppend = "INSERT INTO outbox (payload, created) VALUES (?, ?) RETURNING seq"
	// WHERE true: without it SQLite would parse ON CONFLICT as part of the SELECT's join clause.
	qOutboxRegister = "INSERT INTO outbox_cursors (sink, seq) SELECT ?, coalesce(max(seq), 0) FROM outbox WHERE true " +
		"ON CONFLICT (sink) DO NOTHING"
	qOutboxCursor  = "SELECT seq FROM outbox_cursors WHERE sink = ?"
	qOutboxPending = "SELECT seq, payload, created FROM outbox " +
		"WHERE seq > coalesce((SELECT seq FROM outbox_cursors WHERE sink = ?), 0) ORDER BY seq LIMIT ?"
	qOutboxAck = "INSERT INTO outbox_cursors (sink, seq) VALUES (?, ?) " +
		"ON CONFLICT (sink) DO UPDATE SET seq = max(seq, excluded.seq)"
	qOutboxPrune = "DELETE FROM outbox WHERE seq <= ?"
)

// outboxQuery runs an unprepared query in the transaction. The caller must close the rows.
func (t *tx) outboxQuery(ctx context.Context, query string, args ...driver.Value) (driver.Rows, error) {
	rows, err := t.c.dc.QueryContext(ctx, query, t.c.named(args))
	if err != nil {
		return nil, t.fail(err)
	}
	return rows, nil
}

// outboxExec runs an unprepared statement in the transaction.
func (t *tx) outboxExec(query string, args ...driver.Value) (driver.Result, error) {
	res, err := t.c.dc.ExecContext(bg, query, t.c.named(args))
	if err != nil {
		return nil, t.fail(err)
	}
	return res, nil
}

// outboxCursor returns the sink's cursor; ok is false when it has none.
func (t *tx) outboxCursor(ctx context.Context, sink string) (seq int64, ok bool, err error) {
	if err := t.ready(ctx); err != nil {
		return 0, false, err
	}
	rows, err := t.outboxQuery(bg, qOutboxCursor, sink)
	if err != nil {
		return 0, false, err
	}
	v, ok, err := t.row(rows, 1)
	if err != nil || !ok {
		return 0, false, err
	}
	seq, isInt := v[0].(int64)
	if !isInt {
		return 0, false, t.fail(fmt.Errorf("cursor is %T", v[0]))
	}
	return seq, true, nil
}

// Append stores payload as the next outbox entry.
func (s *Store) Append(ctx context.Context, payload []byte) (int64, error) {
	if payload == nil {
		payload = []byte{} // the column is NOT NULL; an empty BLOB reads back as NULL, i.e. []byte{}
	}
	var seq int64
	err := s.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.writable(ctx); err != nil {
			return err
		}
		rows, err := t.outboxQuery(bg, qOutboxAppend, payload, time.Now().UnixMicro())
		if err != nil {
			return err
		}
		v, ok, err := t.row(rows, 1)
		if err != nil {
			return err
		}
		n, isInt := v[0].(int64)
		if !ok || !isInt {
			return t.fail(fmt.Errorf("no seq returned (%T)", v[0]))
		}
		seq = n
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: outbox append: %w", err)
	}
	return seq, nil
}

// Register creates the sink's cursor at the last entry unless it has one, and returns the cursor.
func (s *Store) Register(ctx context.Context, sink string) (int64, error) {
	var seq int64
	err := s.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.writable(ctx); err != nil {
			return err
		}
		if _, err := t.outboxExec(qOutboxRegister, sink); err != nil {
			return err
		}
		n, ok, err := t.outboxCursor(ctx, sink)
		if err == nil && !ok {
			err = t.fail(errors.New("cursor missing after insert"))
		}
		seq = n
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: outbox register %q: %w", sink, err)
	}
	return seq, nil
}

// Pending returns up to limit entries after the sink's cursor, in order.
func (s *Store) Pending(ctx context.Context, sink string, limit int) ([]store.OutboxEntry, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var out []store.OutboxEntry
	err := s.View(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.ready(ctx); err != nil {
			return err
		}
		rows, err := t.outboxQuery(ctx, qOutboxPending, sink, int64(limit))
		if err != nil {
			return err
		}
		dest := t.dest(3)
		defer clear(dest)
		for {
			err := rows.Next(dest)
			if err == io.EOF {
				break
			}
			if err == nil {
				var e store.OutboxEntry
				if e, err = decodeOutboxEntry(dest); err == nil {
					out = append(out, e)
					continue
				}
			}
			return t.fail(errors.Join(err, rows.Close()))
		}
		if err := rows.Close(); err != nil {
			return t.fail(err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: outbox pending %q: %w", sink, err)
	}
	return out, nil
}

// decodeOutboxEntry makes an entry of a (seq, payload, created) row. The driver allocates BLOBs anew, so the
// entry can keep the payload.
func decodeOutboxEntry(v []driver.Value) (store.OutboxEntry, error) {
	seq, ok1 := v[0].(int64)
	created, ok3 := v[2].(int64)
	var payload []byte
	ok2 := true
	switch p := v[1].(type) {
	case []byte:
		payload = p
		if p == nil {
			payload = []byte{}
		}
	case nil: // an empty BLOB
		payload = []byte{}
	default:
		ok2 = false
	}
	if !ok1 || !ok2 || !ok3 {
		return store.OutboxEntry{}, fmt.Errorf("unexpected outbox row types %T, %T, %T", v[0], v[1], v[2])
	}
	return store.OutboxEntry{Seq: seq, Payload: payload, Created: time.UnixMicro(created).UTC()}, nil
}

// Ack moves the sink's cursor forward to seq (never back).
func (s *Store) Ack(ctx context.Context, sink string, seq int64) error {
	err := s.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		if err := t.writable(ctx); err != nil {
			return err
		}
		_, err := t.outboxExec(qOutboxAck, sink, seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: outbox ack %q %d: %w", sink, seq, err)
	}
	return nil
}

// Prune deletes the entries all of sinks have acknowledged.
func (s *Store) Prune(ctx context.Context, sinks []string) (int64, error) {
	if len(sinks) == 0 {
		return 0, nil
	}
	var deleted int64
	err := s.Update(ctx, func(stx store.Tx) error {
		t := stx.(*tx)
		low := int64(-1)
		for _, sink := range sinks {
			seq, ok, err := t.outboxCursor(ctx, sink)
			if err != nil {
				return err
			}
			if !ok {
				return nil // a sink without a cursor has acknowledged nothing
			}
			if low < 0 || seq < low {
				low = seq
			}
		}
		if err := t.writable(ctx); err != nil {
			return err
		}
		res, err := t.outboxExec(qOutboxPrune, low)
		if err != nil {
			return err
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return t.fail(err)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: outbox prune: %w", err)
	}
	return deleted, nil
}
