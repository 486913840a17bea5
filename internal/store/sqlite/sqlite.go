// Package sqlite implements store.Store on SQLite, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// # Concurrency
//
// The database runs in WAL mode. All Updates are serialised through one writer connection: an Update takes it
// (waiting, within its context, while another Update holds it), runs BEGIN IMMEDIATE, calls fn and commits. Views
// run on a small pool of read-only connections (PRAGMA query_only); in WAL mode readers neither block nor are
// blocked by the writer, and each View reads one snapshot (a deferred BEGIN that takes effect at the View's first
// statement). An Update must not run another Update on the same Store (it would wait for itself until its context
// ends); a View inside an Update is fine and sees the state before the Update.
//
// # Performance
//
// Each connection keeps its prepared statements, and the store drives them through the database/sql/driver
// interfaces directly (see conn.go). The database file is memory-mapped (Options.MmapSize), so readers share the
// operating system's page cache instead of each re-reading pages after every commit. A View with one Get costs
// about 15µs of CPU; see BenchmarkGet.
//
// # Durability
//
// With the default synchronous=NORMAL, a transaction whose Update has returned survives a crash of the process
// (including SIGKILL): the commit is in the WAL file, in the operating system's page cache. It may be lost on power
// loss or an operating-system crash; Options.Synchronous "FULL" makes every commit fsync the WAL, which costs
// write throughput but is durable against those too.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openivs/openivs/internal/store"
)

// ErrClosed is returned by the methods of a closed Store.
var ErrClosed = errors.New("store: closed")

// Options tune Open. The zero value is the default.
type Options struct {
	// Synchronous is SQLite's PRAGMA synchronous: "NORMAL" (default; durable against a process crash), "FULL" or
	// "EXTRA" (also durable against power loss; each commit fsyncs) or "OFF" (tests only: not crash-safe).
	Synchronous string
	// BusyTimeout is how long a statement waits for a lock held by another process using the same file (default
	// 5s). Within one process Updates are serialised in Go and Views never wait for locks.
	BusyTimeout time.Duration
	// Readers is the number of read-only connections Views share (default max(4, 2*GOMAXPROCS)). A View waits
	// for a free one.
	Readers int
	// MmapSize is SQLite's PRAGMA mmap_size in bytes: default 1 GiB, negative disables memory mapping. Readers
	// then share the operating system's page cache through the map instead of copying pages into their own
	// caches with read(2), which makes a Get about 30% cheaper when the store is read-mostly. But SQLite
	// drops a connection's page cache and unmaps the file whenever another connection has committed, and
	// re-faulting the map costs more than re-reading: past a few dozen commits per second, reads get cheaper
	// with mapping off (BenchmarkGetWhileWriting). Also, an I/O error on a mapped page kills the process with
	// SIGBUS instead of failing the statement.
	MmapSize int64
	// CacheEntries, when positive, keeps up to that many resources read by Store.Get in memory, so a repeated Get
	// costs no SQLite read. Only for a Store that is the sole writer of its file (the server's case): writes by
	// another process would not be seen by cached Gets. Views always read SQLite.
	CacheEntries int
}

// Store is a store.Store on one SQLite database file. It is safe for concurrent use.
type Store struct {
	log  *slog.Logger
	path string

	writer  chan *conn // capacity 1: holding the value is holding the write lock
	readers chan *conn // capacity Readers

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // in-flight View, Update, Meta and SetMetaIfAbsent calls

	cache *cache // nil unless Options.CacheEntries > 0

	wmu     sync.Mutex   // guards queue and leading
	queue   []*writeReq  // Updates waiting for the writer, in arrival order
	leading bool         // an Update is running a group (or about to)
	groups  atomic.Int64 // transactions committed by groups (for tests and metrics)
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in the SQLite database file at path with default Options.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	return OpenWithOptions(ctx, path, Options{}, log)
}

// OpenWithOptions opens (creating if needed) the store in the SQLite database file at path, creating or migrating
// its schema. log may be nil.
func OpenWithOptions(ctx context.Context, path string, opts Options, log *slog.Logger) (_ *Store, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open: %q is not a database file path", path)
	}
	level := strings.ToUpper(opts.Synchronous)
	switch level {
	case "":
		level = "NORMAL"
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("store: open: invalid synchronous level %q", opts.Synchronous)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	mmap := opts.MmapSize
	switch {
	case mmap == 0:
		mmap = 1 << 30
	case mmap < 0:
		mmap = 0
	}
	nread := opts.Readers
	if nread <= 0 {
		nread = max(4, 2*runtime.GOMAXPROCS(0))
	}

	// A "file:" URI, so that a path holding '?', '#' or '%' is taken literally (SQLite decodes the escapes). The
	// driver applies the _pragma parameters to every connection it opens.
	base := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=mmap_size(%d)&_pragma=synchronous(%s)",
		(&url.URL{Path: path}).EscapedPath(), busy.Milliseconds(), mmap, level)
	// journal_size_limit: after a checkpoint, truncate a WAL grown past 64 MiB by a burst of writes.
	// temp_store(MEMORY): the statement journals of the savepoints that group commit uses stay in memory
	// instead of being written to a temporary file.
	wdsn := base + "&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(67108864)&_pragma=temp_store(2)"
	rdsn := base + "&_pragma=query_only(1)"

	s := &Store{
		log:     log,
		path:    path,
		writer:  make(chan *conn, 1),
		readers: make(chan *conn, nread),
		cache:   newCache(opts.CacheEntries),
	}
	defer func() {
		if err != nil {
			_ = s.closeConns()
			err = fmt.Errorf("store: open %s: %w", path, err)
		}
	}()

	w := &conn{dsn: wdsn, write: true}
	s.writer <- w
	if err := w.open(); err != nil {
		return nil, err
	}
	mode, err := w.queryString(ctx, "PRAGMA journal_mode")
	if err != nil {
		return nil, fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("cannot use WAL journal mode (got %q)", mode)
	}
	if err := migrate(ctx, w, log); err != nil {
		return nil, err
	}
	for range nread {
		r := &conn{dsn: rdsn}
		s.readers <- r
		if err := r.open(); err != nil {
			return nil, err
		}
	}
	log.Info("store: opened", "path", path, "synchronous", level, "readers", nread, "mmap_size", mmap,
		"schema_version", schemaVersion)
	return s, nil
}

// enter registers an in-flight call; Close waits for it. The caller must call s.wg.Done.
func (s *Store) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	return nil
}

// acquire takes a connection from pool (the writer or the readers), opening it if it was discarded.
func (s *Store) acquire(ctx context.Context, pool chan *conn) (*conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var c *conn
	select {
	case c = <-pool:
	default:
		select {
		case c = <-pool:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.dc == nil {
		if err := c.open(); err != nil {
			pool <- c
			return nil, err
		}
	}
	return c, nil
}

// release returns c to pool, discarding its database connection first if it is in an unknown state.
func (s *Store) release(pool chan *conn, c *conn) {
	if c.broken {
		s.log.Warn("store: reopening a connection after a failed rollback", "writer", c.write)
		if err := c.close(); err != nil {
			s.log.Warn("store: close connection", "err", err)
		}
	}
	pool <- c
}

// View runs fn in a read-only transaction on one snapshot of the store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.wg.Done()
	c, err := s.acquire(ctx, s.readers)
	if err != nil {
		return fmt.Errorf("store: view: %w", err)
	}
	t := &tx{c: c}
	defer func() {
		t.done = true
		if t.begun {
			c.end()
		}
		s.release(s.readers, c)
	}()
	return fn(t)
}

// Update runs fn in a read-write transaction and commits it when fn returns nil. When fn returns an error the
// transaction is rolled back and that error is returned unchanged; when fn panics the transaction is rolled back
// and the panic continues. When an operation of the Tx failed with an error other than store.ErrNotFound or
// store.ErrExists (an I/O error, an interrupted statement), the transaction is rolled back and Update returns an
// error even if fn returned nil: SQLite may already have rolled it back, so committing could not be atomic.
//
// Concurrent Updates are committed in groups: each runs in its own savepoint of one SQLite transaction, so one
// commit (and its write system calls) serves many of them, and each is still atomic on its own: an Update whose fn
// fails is rolled back to its savepoint without touching the others. fn may run on another caller's goroutine; a
// panic in fn is recovered there, rolled back, and re-raised in the caller of Update.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.wg.Done()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: update: %w", err)
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1), wake: make(chan struct{}, 1)}
	s.wmu.Lock()
	s.queue = append(s.queue, req)
	lead := !s.leading
	s.leading = true
	s.wmu.Unlock()
	for {
		if lead {
			s.lead()
			lead = false
		}
		select {
		case res := <-req.done:
			if res.panicked {
				panic(res.panic)
			}
			return res.err
		case <-req.wake:
			lead = true
		}
	}
}

// writeReq is one Update waiting for the writer.
type writeReq struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan writeResult // receives the outcome once committed or failed
	wake chan struct{}    // tells a waiting Update to lead the next group
}

type writeResult struct {
	err      error
	panicked bool
	panic    any
}

// maxGroup bounds how many Updates share a commit, so one group's latency stays short.
const maxGroup = 64

// lead runs one group of queued Updates in one transaction, then hands leadership to the next waiting Update (or
// gives it up when none waits).
func (s *Store) lead() {
	s.wmu.Lock()
	n := min(len(s.queue), maxGroup)
	group := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.wmu.Unlock()

	rest := s.runGroup(group)

	s.wmu.Lock()
	s.queue = append(rest, s.queue...)
	if len(s.queue) > 0 {
		s.queue[0].wake <- struct{}{}
	} else {
		s.leading = false
	}
	s.wmu.Unlock()
}

// runGroup runs the Updates of group in one transaction and delivers their outcomes. It returns the Updates it
// did not start (when the transaction was aborted), to be run in the next group.
func (s *Store) runGroup(group []*writeReq) (notRun []*writeReq) {
	results := make([]writeResult, len(group))
	var committed []int // indexes of Updates whose fn succeeded, pending the commit
	var wrote []string
	deliver := func() {
		s.cache.invalidate(wrote) // before anyone learns the outcome
		for i, r := range group[:len(results)] {
			r.done <- results[i]
		}
	}
	c, err := s.acquire(context.Background(), s.writer)
	if err != nil {
		for i := range results {
			results[i].err = fmt.Errorf("store: update: %w", err)
		}
		deliver()
		return nil
	}
	defer s.release(s.writer, c)
	if err := c.control(sBeginImmediate); err != nil {
		c.end() // in case a transaction was left open: the connection is then replaced
		for i := range results {
			results[i].err = fmt.Errorf("store: update: begin: %w", err)
		}
		deliver()
		return nil
	}
	for i, req := range group {
		if err := req.ctx.Err(); err != nil {
			results[i].err = fmt.Errorf("store: update: %w", err)
			continue
		}
		if err := c.control(sSavepoint); err != nil {
			results[i].err = fmt.Errorf("store: update: savepoint: %w", err)
			return s.abortGroup(c, group, results, committed, i+1, wrote)
		}
		t := &tx{c: c, write: true, begun: true}
		res := runFn(req.fn, t)
		t.done = true
		wrote = append(wrote, t.wrote...)
		if t.err != nil { // SQLite may have rolled back the whole transaction by itself
			results[i].err = fmt.Errorf("store: update: transaction aborted: %w", t.err)
			return s.abortGroup(c, group, results, committed, i+1, wrote)
		}
		if res.err == nil && !res.panicked {
			if err := req.ctx.Err(); err != nil {
				res.err = fmt.Errorf("store: update: %w", err)
			}
		}
		if res.err != nil || res.panicked {
			results[i] = res
			if err := c.control(sRollbackTo); err != nil {
				return s.abortGroup(c, group, results, committed, i+1, wrote)
			}
		} else {
			committed = append(committed, i)
		}
		if err := c.control(sRelease); err != nil {
			results[i].err = fmt.Errorf("store: update: release: %w", err)
			return s.abortGroup(c, group, results, committed, i+1, wrote)
		}
	}
	s.groups.Add(1)
	if err := c.control(sCommit); err != nil {
		c.end()
		for _, i := range committed {
			results[i].err = fmt.Errorf("store: update: commit: %w", err)
		}
	}
	deliver()
	return nil
}

// abortGroup rolls back the whole transaction after a failure that may have ended it: the Updates that had
// succeeded in it fail too (their writes are gone), the ones not yet run are returned to run again.
func (s *Store) abortGroup(c *conn, group []*writeReq, results []writeResult, committed []int, ran int,
	wrote []string) []*writeReq {
	c.end()
	for _, i := range committed {
		results[i].err = errors.New("store: update: rolled back because another update in its commit group failed")
	}
	notRun := group[ran:]
	group = group[:ran]
	results = results[:ran]
	s.cache.invalidate(wrote)
	for i, r := range group {
		if results[i].err == nil && !results[i].panicked {
			results[i].err = errors.New("store: update: transaction aborted")
		}
		r.done <- results[i]
	}
	return notRun
}

// runFn runs fn, turning a panic into a result.
func runFn(fn func(store.Tx) error, t *tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panicked: true, panic: p}
		}
	}()
	return writeResult{err: fn(t)}
}

// Get returns the latest committed version of one resource, from the cache when it holds it (Options.CacheEntries).
func (s *Store) Get(ctx context.Context, arn string) (*store.Resource, error) {
	if r, ok := s.cache.get(arn); ok {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("store: get %s: %w", arn, err)
		}
		return r, nil
	}
	gen := s.cache.generation()
	var r *store.Resource
	err := s.View(ctx, func(tx store.Tx) (err error) {
		r, err = tx.Get(ctx, arn)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.cache.add(r, gen)
	return r, nil
}

// Meta reads a server-wide value.
func (s *Store) Meta(ctx context.Context, key string) ([]byte, bool, error) {
	var v []byte
	var ok bool
	err := s.View(ctx, func(stx store.Tx) error {
		var err error
		v, ok, err = stx.(*tx).meta(ctx, key)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: meta %s: %w", key, err)
	}
	return v, ok, nil
}

// SetMetaIfAbsent stores value under key unless a value is stored, and returns the stored value.
func (s *Store) SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	var v []byte
	err := s.Update(ctx, func(stx store.Tx) error {
		var err error
		v, err = stx.(*tx).setMetaIfAbsent(ctx, key, value)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: set meta %s: %w", key, err)
	}
	return v, nil
}

// Close waits for in-flight transactions, then closes every connection. Calls made after Close return ErrClosed;
// closing twice is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	err := s.closeConns()
	if err != nil {
		s.log.Error("store: close", "path", s.path, "err", err)
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	s.log.Info("store: closed", "path", s.path)
	return nil
}

// closeConns closes every connection; nothing may be using them. The writer closes last so that, as the last
// connection to the file, it checkpoints the WAL into the database and removes it.
func (s *Store) closeConns() error {
	var errs []error
	for len(s.readers) > 0 {
		errs = append(errs, (<-s.readers).close())
	}
	for len(s.writer) > 0 {
		errs = append(errs, (<-s.writer).close())
	}
	return errors.Join(errs...)
}
