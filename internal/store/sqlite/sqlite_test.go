package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/store"
	"github.com/openivs/openivs/internal/store/storetest"
)

func openTest(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := OpenWithOptions(context.Background(), filepath.Join(t.TempDir(), "store.db"), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{}) })
}

// TestConformanceOneReader runs the suite with FULL synchronous and a single reader connection, so Views queue.
func TestConformanceOneReader(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{Synchronous: "full", Readers: 1}) })
}

func res(id string) *store.Resource {
	return &store.Resource{
		ARN: "arn:aws:ivs:us-west-2:111111111111:channel/" + id, Account: "111111111111", Region: "us-west-2",
		Type: "channel", ID: id, Data: []byte(`{"id":"` + id + `"}`), Created: time.Now(),
	}
}

func insert(ctx context.Context, s store.Store, rs ...*store.Resource) error {
	return s.Update(ctx, func(tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

func getRes(ctx context.Context, s store.Store, arn string) (*store.Resource, error) {
	var r *store.Resource
	err := s.View(ctx, func(tx store.Tx) error {
		var err error
		r, err = tx.Get(ctx, arn)
		return err
	})
	return r, err
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for _, p := range []string{"", ":memory:", "file:x.db"} {
		if s, err := Open(ctx, p, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
	if _, err := OpenWithOptions(ctx, filepath.Join(dir, "a.db"), Options{Synchronous: "sometimes"}, nil); err == nil {
		t.Error("invalid Synchronous accepted")
	}
	if _, err := Open(ctx, filepath.Join(dir, "missing-dir", "a.db"), nil); err == nil {
		t.Error("Open in a missing directory succeeded")
	}

	// A SQLite file that is not ours is refused and left alone.
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(ctx, foreign, nil); err == nil {
		s.Close()
		t.Error("Open of a foreign SQLite database succeeded")
	} else {
		t.Log(err)
	}

	// A schema newer than this binary's is refused.
	newer := filepath.Join(dir, "newer.db")
	s, err := Open(ctx, newer, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", schemaVersion+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := Open(ctx, newer, nil); err == nil {
		s.Close()
		t.Error("Open of a newer schema succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestPragmas(t *testing.T) {
	for _, c := range []struct {
		opt  string
		want int64
	}{{"", 1}, {"NORMAL", 1}, {"full", 2}, {"EXTRA", 3}, {"off", 0}} {
		s := openTest(t, Options{Synchronous: c.opt, BusyTimeout: 1234 * time.Millisecond})
		w := <-s.writer
		mode, err := w.queryString(t.Context(), "PRAGMA journal_mode")
		if err != nil {
			t.Fatal(err)
		}
		var ints []int64
		for _, q := range []string{"synchronous", "busy_timeout", "user_version", "application_id", "mmap_size"} {
			n, err := w.queryInt(t.Context(), "PRAGMA "+q)
			if err != nil {
				t.Fatal(q, err)
			}
			ints = append(ints, n)
		}
		s.writer <- w
		if mode != "wal" || ints[0] != c.want || ints[1] != 1234 || ints[2] != schemaVersion || ints[3] != applicationID ||
			ints[4] != 1<<30 {
			t.Errorf("Synchronous %q: journal_mode %s; synchronous, busy_timeout, user_version, application_id, "+
				"mmap_size = %v", c.opt, mode, ints)
		}
		// Readers are read-only connections.
		r := <-s.readers
		err = r.execSQL(t.Context(), "INSERT INTO meta (key, value) VALUES ('x', x'')")
		s.readers <- r
		if err == nil {
			t.Error("a reader connection could write")
		}
	}
}

func TestPathWithSpecialCharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b#c%20d e")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x?y.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(t.Context(), s, res("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := res("a"), res("b")
	a.Tags = map[string]string{"k": "v"}
	a.Refs = []string{"arn:ref"}
	if err := insert(ctx, s, a, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, b.ARN) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMetaIfAbsent(ctx, "secret", []byte("s3cr3t")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.View(ctx, func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("View after Close: %v, want ErrClosed", err)
	}
	if err := s.Update(ctx, func(store.Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if _, err := os.Stat(path + "-wal"); !os.IsNotExist(err) {
		t.Errorf("WAL file left after Close: %v", err)
	}

	s, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := getRes(ctx, s, a.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != a.Seq || got.Tags["k"] != "v" || len(got.Refs) != 1 || !bytes.Equal(got.Data, a.Data) {
		t.Errorf("after reopen: %+v", got)
	}
	if v, ok, err := s.Meta(ctx, "secret"); err != nil || !ok || string(v) != "s3cr3t" {
		t.Errorf("Meta after reopen = %q, %v, %v", v, ok, err)
	}
	c := res("c")
	if err := insert(ctx, s, c); err != nil {
		t.Fatal(err)
	}
	if c.Seq <= b.Seq {
		t.Errorf("Seq after reopen = %d, want > %d (the deleted b's)", c.Seq, b.Seq)
	}
}

func TestCloseWaitsForTransactions(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "store.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, s, res("a")); err != nil {
		t.Fatal(err)
	}
	inView, inUpdate, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	viewDone, updateDone := make(chan error, 1), make(chan error, 1)
	go func() {
		viewDone <- s.View(ctx, func(tx store.Tx) error {
			close(inView)
			<-release
			_, err := tx.Get(ctx, res("a").ARN)
			return err
		})
	}()
	go func() {
		updateDone <- s.Update(ctx, func(tx store.Tx) error {
			close(inUpdate)
			<-release
			return tx.Insert(ctx, res("b"))
		})
	}()
	<-inView
	<-inUpdate
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while transactions were running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-viewDone; err != nil {
		t.Errorf("View: %v", err)
	}
	if err := <-updateDone; err != nil {
		t.Errorf("Update: %v", err)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	s := openTest(t, Options{Readers: 1})
	ctx := t.Context()
	hold, held := make(chan struct{}), make(chan struct{}, 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.View(ctx, func(store.Tx) error { held <- struct{}{}; <-hold; return nil })
	}()
	go func() {
		_ = s.Update(ctx, func(store.Tx) error { held <- struct{}{}; <-hold; return nil })
	}()
	<-held
	<-held
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.View(tctx, func(store.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("View waiting for a reader: %v, want DeadlineExceeded", err)
	}
	if err := s.Update(tctx, func(store.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Update waiting for the writer: %v, want DeadlineExceeded", err)
	}
	close(hold)
	<-done
}

// TestBrokenConnectionReplaced checks that a connection whose state is unknown is replaced, not reused.
func TestBrokenConnectionReplaced(t *testing.T) {
	s := openTest(t, Options{Readers: 1})
	ctx := t.Context()
	if err := insert(ctx, s, res("a")); err != nil {
		t.Fatal(err)
	}
	for i, pool := range []chan *conn{s.writer, s.readers} {
		c := <-pool
		c.broken = true
		s.release(pool, c)
		if c.dc != nil {
			t.Fatal("broken connection kept")
		}
		if _, err := getRes(ctx, s, res("a").ARN); err != nil {
			t.Fatal(err)
		}
		if err := insert(ctx, s, res(fmt.Sprint("b", i))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "store.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := insert(ctx, s, res(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if _, err := getRes(ctx, s, res(fmt.Sprint(i)).ARN); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Open, %d after Close:\n%s", before, runtime.NumGoroutine(),
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQueryPlans checks that the hot queries use indexes rather than scanning the resources table.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, Options{})
	w := <-s.writer
	defer func() { s.writer <- w }()
	queries := map[string]string{
		"get": stmtSQL[sGet], "count": stmtSQL[sCount], "referrers": stmtSQL[sReferrers],
		"children": stmtSQL[sChildren], "meta": stmtSQL[sMetaGet], "findbyid": stmtSQL[sFindByID],
	}
	for f := range nLists {
		queries[fmt.Sprintf("list%d", f)] = listSQL(f)
	}
	for name, q := range queries {
		n := strings.Count(q, "?")
		args := make([]driver.Value, n)
		for i := range args {
			args[i] = "x"
		}
		rows, err := w.dc.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, w.named(args))
		if err != nil {
			t.Fatal(name, err)
		}
		var plan []string
		dest := make([]driver.Value, len(rows.Columns()))
		for rows.Next(dest) == nil {
			plan = append(plan, dest[3].(string))
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		t.Logf("%-10s %s", name, joined)
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN ") && !strings.Contains(p, "USING") && p != "SCAN CONSTANT ROW" {
				t.Errorf("%s: full scan: %s", name, joined)
			}
			if strings.Contains(p, "TEMP B-TREE") {
				t.Errorf("%s: sorts: %s", name, joined)
			}
		}
	}
}

const helperEnv = "OPENIVS_SQLITE_HELPER_DB"

// TestHelperWriter is not a test: TestDurabilityAfterKill runs the test binary with only this test selected and
// helperEnv set. It writes resources in a loop, printing each ARN once its Update has returned.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("helper process for TestDurabilityAfterKill")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		rs := []*store.Resource{res(fmt.Sprintf("k%d", i))}
		if i%10 == 0 { // some multi-resource transactions too
			for j := range 5 {
				r := res(fmt.Sprintf("k%d-%d", i, j))
				r.Refs = []string{rs[0].ARN}
				rs = append(rs, r)
			}
		}
		if err := insert(ctx, s, rs...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, r := range rs {
			fmt.Fprintf(out, "ACK %s\n", r.ARN)
		}
		if err := out.Flush(); err != nil { // one write(2) per acknowledged transaction
			os.Exit(2)
		}
	}
}

// TestDurabilityAfterKill checks that every Update acknowledged before a SIGKILL is in the database afterwards.
func TestDurabilityAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "store.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if arn, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
			acked = append(acked, arn)
			if len(acked) == 400 {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
			}
		}
	}
	err = cmd.Wait()
	if len(acked) < 400 {
		t.Fatalf("helper stopped after %d acknowledgements: %v\n%s", len(acked), err, stderr.String())
	}
	// Lines still in the pipe at the kill were acknowledged too: they are checked as well.
	t.Logf("helper killed after %d acknowledged resources (%v)", len(acked), err)

	ctx := t.Context()
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(ctx, func(tx store.Tx) error {
		for _, arn := range acked {
			if _, err := tx.Get(ctx, arn); err != nil {
				return err
			}
		}
		n, err := tx.Count(ctx, "111111111111", "us-west-2", "channel")
		if err != nil {
			return err
		}
		if n < len(acked) {
			t.Errorf("Count %d < %d acknowledged", n, len(acked))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("acknowledged write lost: %v", err)
	}
	w := <-s.writer
	check, err := w.queryString(ctx, "PRAGMA integrity_check")
	s.writer <- w
	if err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q, %v", check, err)
	}
}

// TestTwoStoresOneFile checks that two Stores (as two processes would) can share a file: SQLite's locks, waited
// for up to BusyTimeout, serialise their Updates, and each sees the other's commits.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	var stores []*Store
	for range 2 {
		s, err := Open(ctx, path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	const each = 50
	errs := make(chan error, 2*each)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			for j := range each {
				errs <- insert(ctx, s, res(fmt.Sprintf("s%d-%d", i, j)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		err := s.View(ctx, func(tx store.Tx) error {
			n, err := tx.Count(ctx, "111111111111", "us-west-2", "channel")
			if err == nil && n != 2*each {
				err = fmt.Errorf("count %d, want %d", n, 2*each)
			}
			return err
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// TestConformanceCached runs the suite with the read cache on.
func TestConformanceCached(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, Options{CacheEntries: 64}) })
}

// TestCacheNeverServesStaleAfterAck: while a writer keeps updating a resource, a Get that starts after an Update
// returned never sees an older version, though readers race to fill the cache with versions they read earlier.
func TestCacheNeverServesStaleAfterAck(t *testing.T) {
	s := openTest(t, Options{CacheEntries: 16})
	ctx := t.Context()
	r := res("hot")
	r.Data = []byte(`0`)
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r) }); err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ { // readers that keep the cache busy
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := acked.Load()
				g, err := s.Get(ctx, r.ARN)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := strconv.ParseInt(string(g.Data), 10, 64)
				if err != nil {
					t.Error(err)
					return
				}
				if got < before {
					t.Errorf("View read version %d after version %d was acknowledged", got, before)
					return
				}
			}
		}()
	}
	for v := int64(1); v <= 300; v++ {
		err := s.Update(ctx, func(tx store.Tx) error {
			cur, err := tx.Get(ctx, r.ARN)
			if err != nil {
				return err
			}
			cur.Data = []byte(strconv.FormatInt(v, 10))
			return tx.Update(ctx, cur)
		})
		if err != nil {
			t.Fatal(err)
		}
		acked.Store(v)
	}
	close(stop)
	wg.Wait()
	// A deleted resource is gone from the cache too.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, r.ARN) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	// Changing what a Get returned does not change the cache.
	r2 := res("mutable")
	s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, r2) })
	for i := 0; i < 2; i++ {
		g, err := s.Get(ctx, r2.ARN)
		if err != nil {
			t.Fatal(err)
		}
		if g.Tags["mutated"] != "" {
			t.Errorf("a caller's change reached the cache")
		}
		g.Tags["mutated"] = "yes"
	}
	if n := len(s.cache.m); n > 16 {
		t.Errorf("cache holds %d entries, bound is 16", n)
	}
}

// TestGroupCommit: concurrent Updates share commits, yet each is atomic on its own: in the same groups, Updates
// that fail or panic after writing leave nothing behind, the others are all durable, and a panic reaches its own
// caller only.
func TestGroupCommit(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	const workers, each = 16, 30
	errBoom := errors.New("boom")
	var wg sync.WaitGroup
	var okN, failN, panicN atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r := res(fmt.Sprintf("g%d-%d", w, i))
				kind := (w + i) % 5
				func() {
					defer func() {
						if p := recover(); p != nil {
							if p != "fn panicked" {
								t.Errorf("panic value %v", p)
							}
							panicN.Add(1)
						}
					}()
					err := s.Update(ctx, func(tx store.Tx) error {
						if err := tx.Insert(ctx, r); err != nil {
							return err
						}
						switch kind {
						case 0:
							return errBoom
						case 1:
							panic("fn panicked")
						}
						return nil
					})
					switch {
					case kind == 0 && !errors.Is(err, errBoom):
						t.Errorf("failing update returned %v", err)
					case kind >= 2 && err != nil:
						t.Errorf("update failed: %v", err)
					case kind == 0:
						failN.Add(1)
					case kind >= 2:
						okN.Add(1)
					}
				}()
			}
		}(w)
	}
	wg.Wait()
	if panicN.Load() == 0 || failN.Load() == 0 {
		t.Fatalf("the test did not exercise failures: %d panics, %d errors", panicN.Load(), failN.Load())
	}
	for w := 0; w < workers; w++ {
		for i := 0; i < each; i++ {
			kind := (w + i) % 5
			arn := res(fmt.Sprintf("g%d-%d", w, i)).ARN
			_, err := s.Get(ctx, arn)
			if kind >= 2 && err != nil {
				t.Fatalf("committed update %s lost: %v", arn, err)
			}
			if kind < 2 && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("rolled-back update %s persisted: %v", arn, err)
			}
		}
	}
	updates := int64(workers * each)
	if g := s.groups.Load(); g >= updates {
		t.Errorf("%d commits for %d concurrent updates: no grouping", g, updates)
	} else {
		t.Logf("%d updates (%d ok, %d failed, %d panicked) in %d commits", updates, okN.Load(), failN.Load(), panicN.Load(), g)
	}
}
