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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/store"
)

// runOutboxSuite is a conformance suite for store.Outbox in the style of storetest.Run: open must return a new,
// empty outbox for each call and close it when the test ends. (It can move to storetest when a second
// implementation exists.)
func runOutboxSuite(t *testing.T, open func(t *testing.T) store.Outbox) {
	tests := []struct {
		name string
		fn   func(t *testing.T, o store.Outbox)
	}{
		{"AppendPendingOrder", testOutboxAppendPending},
		{"PendingLimit", testOutboxPendingLimit},
		{"Payloads", testOutboxPayloads},
		{"UnregisteredReadsAll", testOutboxUnregistered},
		{"RegisterAtEnd", testOutboxRegister},
		{"AckPerSink", testOutboxAck},
		{"AckNeverMovesBack", testOutboxAckBack},
		{"Prune", testOutboxPrune},
		{"SeqNotReusedAfterPrune", testOutboxSeqAfterPrune},
		{"ContextCanceled", testOutboxCanceled},
		{"ConcurrentAppends", testOutboxConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func TestOutboxConformance(t *testing.T) {
	runOutboxSuite(t, func(t *testing.T) store.Outbox { return openTest(t, Options{}) })
}

func appendN(t *testing.T, o store.Outbox, prefix string, n int) []int64 {
	t.Helper()
	var seqs []int64
	for i := range n {
		seq, err := o.Append(t.Context(), fmt.Appendf(nil, "%s%d", prefix, i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

func pending(t *testing.T, o store.Outbox, sink string, limit int) []store.OutboxEntry {
	t.Helper()
	es, err := o.Pending(t.Context(), sink, limit)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func seqsOf(es []store.OutboxEntry) []int64 {
	var out []int64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func payloadsOf(es []store.OutboxEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Payload))
	}
	return out
}

func register(t *testing.T, o store.Outbox, sink string) int64 {
	t.Helper()
	c, err := o.Register(t.Context(), sink)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ack(t *testing.T, o store.Outbox, sink string, seq int64) {
	t.Helper()
	if err := o.Ack(t.Context(), sink, seq); err != nil {
		t.Fatal(err)
	}
}

func testOutboxAppendPending(t *testing.T, o store.Outbox) {
	if es := pending(t, o, "s", 0); len(es) != 0 {
		t.Fatalf("empty outbox: Pending = %v", es)
	}
	before := time.Now().Add(-time.Second)
	seqs := appendN(t, o, "p", 5)
	after := time.Now().Add(time.Second)
	if !slices.IsSorted(seqs) || seqs[0] <= 0 || len(slices.Compact(slices.Clone(seqs))) != 5 {
		t.Fatalf("seqs %v: want positive and strictly increasing", seqs)
	}
	es := pending(t, o, "s", 0)
	if !slices.Equal(seqsOf(es), seqs) {
		t.Errorf("Pending seqs = %v, want %v", seqsOf(es), seqs)
	}
	if want := []string{"p0", "p1", "p2", "p3", "p4"}; !slices.Equal(payloadsOf(es), want) {
		t.Errorf("Pending payloads = %q, want %q", payloadsOf(es), want)
	}
	for _, e := range es {
		if e.Created.Before(before) || e.Created.After(after) || e.Created.Location() != time.UTC {
			t.Errorf("entry %d Created = %v, want UTC within [%v, %v]", e.Seq, e.Created, before, after)
		}
	}
}

func testOutboxPendingLimit(t *testing.T, o store.Outbox) {
	seqs := appendN(t, o, "p", 7)
	if got := seqsOf(pending(t, o, "s", 3)); !slices.Equal(got, seqs[:3]) {
		t.Errorf("Pending limit 3 = %v, want %v", got, seqs[:3])
	}
	ack(t, o, "s", seqs[2])
	if got := seqsOf(pending(t, o, "s", 3)); !slices.Equal(got, seqs[3:6]) {
		t.Errorf("after Ack: Pending limit 3 = %v, want %v", got, seqs[3:6])
	}
	if got := seqsOf(pending(t, o, "s", -1)); !slices.Equal(got, seqs[3:]) {
		t.Errorf("Pending limit -1 = %v, want %v", got, seqs[3:])
	}
}

func testOutboxPayloads(t *testing.T, o store.Outbox) {
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	bin := []byte{0, 1, 2, 0xff, 0xfe, 0, '"', '\\'}
	in := [][]byte{nil, {}, bin, big, []byte(`{"version":"0"}`)}
	for _, p := range in {
		if _, err := o.Append(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	es := pending(t, o, "s", 0)
	if len(es) != len(in) {
		t.Fatalf("got %d entries, want %d", len(es), len(in))
	}
	for i, e := range es {
		if e.Payload == nil {
			t.Errorf("entry %d: nil Payload", i)
		}
		if !bytes.Equal(e.Payload, in[i]) {
			t.Errorf("entry %d: payload of %d bytes, want %d bytes", i, len(e.Payload), len(in[i]))
		}
	}
}

func testOutboxUnregistered(t *testing.T, o store.Outbox) {
	seqs := appendN(t, o, "p", 3)
	register(t, o, "other")
	if got := seqsOf(pending(t, o, "never-registered", 0)); !slices.Equal(got, seqs) {
		t.Errorf("unregistered sink: Pending = %v, want %v", got, seqs)
	}
}

func testOutboxRegister(t *testing.T, o store.Outbox) {
	if c := register(t, o, "early"); c != 0 {
		t.Errorf("Register on an empty outbox = %d, want 0", c)
	}
	seqs := appendN(t, o, "p", 3)
	if c := register(t, o, "late"); c != seqs[2] {
		t.Errorf("Register after 3 appends = %d, want %d", c, seqs[2])
	}
	if es := pending(t, o, "late", 0); len(es) != 0 {
		t.Errorf("a sink registered after the entries sees %v", seqsOf(es))
	}
	if got := seqsOf(pending(t, o, "early", 0)); !slices.Equal(got, seqs) {
		t.Errorf("early sink: Pending = %v, want %v", got, seqs)
	}
	more := appendN(t, o, "q", 2)
	if got := seqsOf(pending(t, o, "late", 0)); !slices.Equal(got, more) {
		t.Errorf("late sink after more appends: Pending = %v, want %v", got, more)
	}
	// Register is idempotent: it neither moves an existing cursor forward nor back.
	if c := register(t, o, "early"); c != 0 {
		t.Errorf("second Register of early = %d, want 0", c)
	}
	ack(t, o, "early", seqs[1])
	if c := register(t, o, "early"); c != seqs[1] {
		t.Errorf("Register after Ack = %d, want %d", c, seqs[1])
	}
}

func testOutboxAck(t *testing.T, o store.Outbox) {
	register(t, o, "a")
	register(t, o, "b")
	seqs := appendN(t, o, "p", 4)
	ack(t, o, "a", seqs[1])
	if got := seqsOf(pending(t, o, "a", 0)); !slices.Equal(got, seqs[2:]) {
		t.Errorf("a after Ack(%d): %v, want %v", seqs[1], got, seqs[2:])
	}
	if got := seqsOf(pending(t, o, "b", 0)); !slices.Equal(got, seqs) {
		t.Errorf("b (no Ack): %v, want %v", got, seqs)
	}
	ack(t, o, "a", seqs[3])
	if es := pending(t, o, "a", 0); len(es) != 0 {
		t.Errorf("a after acknowledging everything: %v", seqsOf(es))
	}
	// Ack of a sink never registered creates its cursor.
	ack(t, o, "c", seqs[2])
	if got := seqsOf(pending(t, o, "c", 0)); !slices.Equal(got, seqs[3:]) {
		t.Errorf("c: %v, want %v", got, seqs[3:])
	}
}

func testOutboxAckBack(t *testing.T, o store.Outbox) {
	register(t, o, "a")
	seqs := appendN(t, o, "p", 4)
	ack(t, o, "a", seqs[2])
	ack(t, o, "a", seqs[0])
	if got := seqsOf(pending(t, o, "a", 0)); !slices.Equal(got, seqs[3:]) {
		t.Errorf("after a backward Ack: %v, want %v", got, seqs[3:])
	}
	if c := register(t, o, "a"); c != seqs[2] {
		t.Errorf("cursor = %d, want %d", c, seqs[2])
	}
}

func testOutboxPrune(t *testing.T, o store.Outbox) {
	ctx := t.Context()
	register(t, o, "a")
	register(t, o, "b")
	seqs := appendN(t, o, "p", 6)
	prune := func(sinks ...string) int64 {
		t.Helper()
		n, err := o.Prune(ctx, sinks)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := prune("a", "b"); n != 0 {
		t.Errorf("Prune with nothing acknowledged deleted %d", n)
	}
	ack(t, o, "a", seqs[4])
	ack(t, o, "b", seqs[1])
	if n := prune(); n != 0 {
		t.Errorf("Prune of no sinks deleted %d", n)
	}
	if n := prune("a", "b", "unknown"); n != 0 {
		t.Errorf("Prune with a sink without a cursor deleted %d", n)
	}
	if n := prune("a", "b"); n != 2 {
		t.Errorf("Prune deleted %d, want 2 (up to b's cursor)", n)
	}
	if got := seqsOf(pending(t, o, "b", 0)); !slices.Equal(got, seqs[2:]) {
		t.Errorf("b after Prune: %v, want %v", got, seqs[2:])
	}
	if got := seqsOf(pending(t, o, "never", 0)); !slices.Equal(got, seqs[2:]) {
		t.Errorf("unregistered after Prune: %v, want %v", got, seqs[2:])
	}
	// A sink left out of the list (removed from the configuration) does not hold entries back.
	if n := prune("a"); n != 3 {
		t.Errorf("Prune of a alone deleted %d, want 3", n)
	}
	if got := seqsOf(pending(t, o, "b", 0)); !slices.Equal(got, seqs[5:]) {
		t.Errorf("b after Prune of a: %v, want %v", got, seqs[5:])
	}
	if n := prune("a", "b"); n != 0 {
		t.Errorf("repeated Prune deleted %d", n)
	}
}

func testOutboxSeqAfterPrune(t *testing.T, o store.Outbox) {
	register(t, o, "a")
	seqs := appendN(t, o, "p", 3)
	ack(t, o, "a", seqs[2])
	if n, err := o.Prune(t.Context(), []string{"a"}); err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 3", n, err)
	}
	next := appendN(t, o, "q", 1)[0]
	if next <= seqs[2] {
		t.Errorf("seq after pruning everything = %d, want > %d", next, seqs[2])
	}
	if c := register(t, o, "new"); c != next {
		t.Errorf("Register after prune = %d, want %d", c, next)
	}
	if got := seqsOf(pending(t, o, "a", 0)); !slices.Equal(got, []int64{next}) {
		t.Errorf("a: %v, want [%d]", got, next)
	}
}

func testOutboxCanceled(t *testing.T, o store.Outbox) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := o.Append(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Append: %v, want context.Canceled", err)
	}
	if _, err := o.Register(ctx, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("Register: %v, want context.Canceled", err)
	}
	if _, err := o.Pending(ctx, "a", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Pending: %v, want context.Canceled", err)
	}
	if err := o.Ack(ctx, "a", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Ack: %v, want context.Canceled", err)
	}
	if _, err := o.Prune(ctx, []string{"a"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Prune: %v, want context.Canceled", err)
	}
	if es := pending(t, o, "a", 0); len(es) != 0 {
		t.Errorf("canceled Append stored %v", seqsOf(es))
	}
}

func testOutboxConcurrent(t *testing.T, o store.Outbox) {
	const writers, each = 4, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	bySeq := map[int64]string{}
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				p := fmt.Sprintf("w%d-%d", w, i)
				seq, err := o.Append(t.Context(), []byte(p))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				bySeq[seq] = p
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	es := pending(t, o, "s", 0)
	if len(es) != writers*each || len(bySeq) != writers*each {
		t.Fatalf("%d entries, %d distinct seqs; want %d", len(es), len(bySeq), writers*each)
	}
	last := map[int]int{}
	for i, e := range es {
		if i > 0 && e.Seq <= es[i-1].Seq {
			t.Fatalf("Pending out of order at %d: %d after %d", i, e.Seq, es[i-1].Seq)
		}
		if bySeq[e.Seq] != string(e.Payload) {
			t.Errorf("seq %d: payload %q, Append returned it for %q", e.Seq, e.Payload, bySeq[e.Seq])
		}
		// Each writer's entries are in the order it appended them.
		var w, n int
		if _, err := fmt.Sscanf(string(e.Payload), "w%d-%d", &w, &n); err != nil {
			t.Fatal(err)
		}
		if prev, ok := last[w]; ok && n <= prev {
			t.Errorf("writer %d: entry %d after %d", w, n, prev)
		}
		last[w] = n
	}
}

// TestOutboxReopen checks that entries and cursors survive closing and reopening the file.
func TestOutboxReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	register(t, s, "a")
	seqs := appendN(t, s, "p", 4)
	ack(t, s, "a", seqs[1])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}

	s, err = Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := seqsOf(pending(t, s, "a", 0)); !slices.Equal(got, seqs[2:]) {
		t.Errorf("after reopen: %v, want %v", got, seqs[2:])
	}
	if got := payloadsOf(pending(t, s, "a", 0)); !slices.Equal(got, []string{"p2", "p3"}) {
		t.Errorf("after reopen: payloads %q", got)
	}
	if next := appendN(t, s, "q", 1)[0]; next <= seqs[3] {
		t.Errorf("seq after reopen = %d, want > %d", next, seqs[3])
	}
}

// TestOutboxMigrationFromV2 opens a database at schema version 2 (before the outbox) holding a resource, and
// checks that Open adds the outbox and keeps the resource.
func TestOutboxMigrationFromV2(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{fmt.Sprintf("PRAGMA application_id = %d", applicationID), migrations[0], migrations[1],
		`INSERT INTO resources (arn, account, region, type, id, name, parent, created)
			VALUES ('arn:aws:ivs:us-west-2:111111111111:channel/a', '111111111111', 'us-west-2', 'channel', 'a', '', '', 0)`,
		"PRAGMA user_version = 2"}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, "arn:aws:ivs:us-west-2:111111111111:channel/a"); err != nil {
		t.Errorf("resource lost by the migration: %v", err)
	}
	n := 0
	if err := s.View(ctx, func(tx store.Tx) (err error) {
		n, err = tx.Count(ctx, "111111111111", "us-west-2", "channel")
		return err
	}); err != nil || n != 1 {
		t.Errorf("Count = %d, %v", n, err)
	}
	seq, err := s.Append(ctx, []byte("x"))
	if err != nil || seq != 1 {
		t.Errorf("Append after migration = %d, %v", seq, err)
	}
	w := <-s.writer
	v, err := w.queryInt(ctx, "PRAGMA user_version")
	s.writer <- w
	if err != nil || v != schemaVersion || schemaVersion < 3 {
		t.Errorf("user_version = %d, %v; want %d", v, err, schemaVersion)
	}
}

// TestOutboxQueryPlans checks that Pending and the cursor look-ups use the primary keys.
func TestOutboxQueryPlans(t *testing.T) {
	s := openTest(t, Options{})
	ctx := t.Context()
	w := <-s.writer
	defer func() { s.writer <- w }()
	for _, q := range []string{qOutboxPending, qOutboxCursor, qOutboxPrune} {
		rows, err := w.dc.QueryContext(ctx, "EXPLAIN QUERY PLAN "+strings.ReplaceAll(q, "?", "1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		dest := make([]driver.Value, len(rows.Columns()))
		for rows.Next(dest) == nil {
			plan = append(plan, fmt.Sprint(dest[len(dest)-1]))
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		t.Logf("%s: %s", q, joined)
		if len(plan) == 0 {
			t.Errorf("%s: no plan", q)
		}
		if strings.Contains(joined, "SCAN outbox_cursors") || strings.Contains(joined, "TEMP B-TREE") ||
			(strings.Contains(joined, "SCAN outbox") && !strings.Contains(joined, "USING INTEGER PRIMARY KEY")) {
			t.Errorf("%s:\n%s", q, joined)
		}
	}
}

const outboxHelperEnv = "OPENIVS_SQLITE_OUTBOX_HELPER_DB"

// TestOutboxHelperAppender is not a test: TestOutboxDurabilityAfterKill runs the test binary with only this test
// selected and outboxHelperEnv set. It appends in a loop, printing each seq once Append has returned.
func TestOutboxHelperAppender(t *testing.T) {
	path := os.Getenv(outboxHelperEnv)
	if path == "" {
		t.Skip("helper process for TestOutboxDurabilityAfterKill")
	}
	ctx := context.Background()
	s, err := Open(ctx, path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		seq, err := s.Append(ctx, fmt.Appendf(nil, "e%d", i))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if i%7 == 0 {
			if err := s.Ack(ctx, "sink", seq); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Fprintf(out, "ACKED %d\n", seq)
		}
		fmt.Fprintf(out, "SEQ %d e%d\n", seq, i)
		if err := out.Flush(); err != nil {
			os.Exit(2)
		}
	}
}

// TestOutboxDurabilityAfterKill checks that every Append and Ack that returned before a SIGKILL is in the outbox
// afterwards.
func TestOutboxDurabilityAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := filepath.Join(t.TempDir(), "store.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxHelperAppender$", "-test.count=1")
	cmd.Env = append(os.Environ(), outboxHelperEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	appended := map[int64]string{}
	var acked int64
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		seq, _ := strconv.ParseInt(f[1], 10, 64)
		switch {
		case f[0] == "SEQ" && len(f) == 3:
			appended[seq] = f[2]
			if len(appended) == 200 {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		case f[0] == "ACKED":
			acked = max(acked, seq)
		}
	}
	err = cmd.Wait()
	if len(appended) < 200 {
		t.Fatalf("helper stopped after %d appends: %v\n%s", len(appended), err, stderr.String())
	}
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all := pending(t, s, "never-registered", 0)
	got := map[int64]string{}
	for _, e := range all {
		got[e.Seq] = string(e.Payload)
	}
	for seq, p := range appended {
		if got[seq] != p {
			t.Errorf("acknowledged append %d (%s) lost: have %q", seq, p, got[seq])
		}
	}
	if c := register(t, s, "sink"); c < acked {
		t.Errorf("cursor after kill = %d, want >= %d", c, acked)
	}
}
