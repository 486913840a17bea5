// Package storetest is a conformance suite for store.Store implementations: every implementation (SQLite today,
// PostgreSQL later) runs Run from its own tests and must pass it unchanged.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/store"
)

// Run runs the conformance suite. open must return a new, empty store for each call; Run closes it when the
// subtest ends (so Close must tolerate being called again by open's own cleanup, if any).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"InsertGet", testInsertGet},
		{"StoreGet", testStoreGet},
		{"FindByID", testFindByID},
		{"EmptyFields", testEmptyFields},
		{"Created", testCreated},
		{"InsertExists", testInsertExists},
		{"NotFound", testNotFound},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"ListOrderAndFilters", testListOrderAndFilters},
		{"ListPagination", testListPagination},
		{"Isolation", testIsolation},
		{"Count", testCount},
		{"Referrers", testReferrers},
		{"Children", testChildren},
		{"SeqMonotonic", testSeqMonotonic},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ReadYourWrites", testReadYourWrites},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"TxAfterReturn", testTxAfterReturn},
		{"Meta", testMeta},
		{"ContextCanceled", testContextCanceled},
		{"LargeData", testLargeData},
		{"ConcurrentViewsSeeSnapshots", testConcurrentViews},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

const (
	acct1 = "111111111111"
	acct2 = "222222222222"
	reg1  = "us-west-2"
	reg2  = "eu-west-1"
)

// base is a creation time with millisecond precision, which every implementation must round-trip exactly.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)

// newRes returns a resource with the usual ARN layout and a JSON document naming it.
func newRes(account, region, typ, id string) *store.Resource {
	return &store.Resource{
		ARN:     fmt.Sprintf("arn:aws:ivs:%s:%s:%s/%s", region, account, typ, id),
		Account: account,
		Region:  region,
		Type:    typ,
		ID:      id,
		Data:    []byte(`{"id":"` + id + `"}`),
		Created: base,
	}
}

func ctxT(t *testing.T) context.Context { return t.Context() }

func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := ctxT(t)
	if err := s.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := ctxT(t)
	if err := s.View(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// insert stores copies of rs in one Update and returns them with their assigned Seq.
func insert(t *testing.T, s store.Store, rs ...*store.Resource) []*store.Resource {
	t.Helper()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rs {
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	return rs
}

func get(t *testing.T, s store.Store, arn string) (*store.Resource, error) {
	t.Helper()
	var r *store.Resource
	err := s.View(ctxT(t), func(tx store.Tx) error {
		var err error
		r, err = tx.Get(ctxT(t), arn)
		return err
	})
	return r, err
}

func mustGet(t *testing.T, s store.Store, arn string) *store.Resource {
	t.Helper()
	r, err := get(t, s, arn)
	if err != nil {
		t.Fatalf("Get %s: %v", arn, err)
	}
	return r
}

func list(t *testing.T, s store.Store, q store.ListQuery) []*store.Resource {
	t.Helper()
	var rs []*store.Resource
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		rs, err = tx.List(ctx, q)
		return err
	})
	return rs
}

func arns(rs []*store.Resource) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ARN
	}
	return out
}

func arnsOf(rs ...*store.Resource) []string { return arns(rs) }

func equalStrings(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }

// checkEqual fails unless got has every field of want (Seq too), with Tags never nil.
func checkEqual(t *testing.T, got, want *store.Resource) {
	t.Helper()
	if got == nil {
		t.Fatalf("got nil resource, want %s", want.ARN)
	}
	if got.ARN != want.ARN || got.Account != want.Account || got.Region != want.Region || got.Type != want.Type ||
		got.ID != want.ID || got.Name != want.Name || got.Parent != want.Parent {
		t.Errorf("identity mismatch:\n got %q %q %q %q %q %q %q\nwant %q %q %q %q %q %q %q",
			got.ARN, got.Account, got.Region, got.Type, got.ID, got.Name, got.Parent,
			want.ARN, want.Account, want.Region, want.Type, want.ID, want.Name, want.Parent)
	}
	if !equalStrings(got.Refs, want.Refs) {
		t.Errorf("%s: Refs = %q, want %q", want.ARN, got.Refs, want.Refs)
	}
	if got.Tags == nil {
		t.Errorf("%s: Tags is nil, want a non-nil map", want.ARN)
	}
	if !maps.Equal(got.Tags, want.Tags) {
		t.Errorf("%s: Tags = %v, want %v", want.ARN, got.Tags, want.Tags)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s: Data = %q, want %q", want.ARN, got.Data, want.Data)
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("%s: Created = %v, want %v", want.ARN, got.Created, want.Created)
	}
	if got.Created.Location() != time.UTC {
		t.Errorf("%s: Created location = %v, want UTC", want.ARN, got.Created.Location())
	}
	if got.Seq != want.Seq {
		t.Errorf("%s: Seq = %d, want %d", want.ARN, got.Seq, want.Seq)
	}
}

func testInsertGet(t *testing.T, s store.Store) {
	parent := newRes(acct1, reg1, "channel", "parent")
	r := newRes(acct1, reg1, "stream-key", "sk1")
	r.Name = "my key"
	r.Parent = parent.ARN
	r.Refs = []string{"arn:aws:ivs:us-west-2:111111111111:recording-configuration/b", "arn:aws:ivs:us-west-2:111111111111:recording-configuration/a"}
	r.Tags = map[string]string{"env": "prod", "": "empty key", "unicode": "é ✓ \"quoted\" <html> &", "empty": ""}
	r.Data = []byte(`{"arn":"x","nested":{"a":[1,2,3]},"s":"\u00e9"}`)
	insert(t, s, parent, r)
	if parent.Seq <= 0 || r.Seq <= parent.Seq {
		t.Fatalf("Insert assigned Seq %d then %d, want positive and increasing", parent.Seq, r.Seq)
	}
	checkEqual(t, mustGet(t, s, r.ARN), r)
	checkEqual(t, mustGet(t, s, parent.ARN), parent)

	// The returned resource is the caller's: changing it changes nothing stored.
	got := mustGet(t, s, r.ARN)
	got.Tags["env"] = "changed"
	got.Data[0] = 'X'
	got.Refs[0] = "changed"
	checkEqual(t, mustGet(t, s, r.ARN), r)
}

func testEmptyFields(t *testing.T, s store.Store) {
	r := &store.Resource{ARN: "arn:aws:ivs:us-west-2:111111111111:channel/empty", Account: acct1, Region: reg1,
		Type: "channel", ID: "empty", Created: base}
	insert(t, s, r)
	got := mustGet(t, s, r.ARN)
	checkEqual(t, got, r)
	if got.Tags == nil || len(got.Tags) != 0 {
		t.Errorf("Tags = %#v, want an empty non-nil map", got.Tags)
	}
	if len(got.Refs) != 0 || len(got.Data) != 0 {
		t.Errorf("Refs %q Data %q, want empty", got.Refs, got.Data)
	}
	rs := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel"})
	if len(rs) != 1 || rs[0].Tags == nil {
		t.Fatalf("List = %v, want one resource with non-nil Tags", rs)
	}
	// Empty non-nil Tags are stored as empty too.
	r2 := newRes(acct1, reg1, "channel", "empty2")
	r2.Tags = map[string]string{}
	insert(t, s, r2)
	checkEqual(t, mustGet(t, s, r2.ARN), r2)
}

func testCreated(t *testing.T, s store.Store) {
	ns := time.Date(2031, 12, 31, 23, 59, 59, 987_654_321, time.UTC)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	cases := []time.Time{
		base,
		time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 5, 6, 12, 38, 9, 456_000_000, zone), // not UTC: read back as the same instant in UTC
		ns, // sub-millisecond: kept to at least millisecond precision
		time.Now(),
		{}, // the zero time
		time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC),
	}
	for i, c := range cases {
		r := newRes(acct1, reg1, "channel", "c"+strconv.Itoa(i))
		r.Created = c
		insert(t, s, r)
		got := mustGet(t, s, r.ARN)
		if got.Created.Location() != time.UTC {
			t.Errorf("case %d: location %v, want UTC", i, got.Created.Location())
		}
		if c.Nanosecond()%1_000_000 == 0 {
			if !got.Created.Equal(c) {
				t.Errorf("case %d: Created = %v, want %v", i, got.Created, c)
			}
		} else if d := got.Created.Sub(c).Abs(); d >= time.Millisecond {
			t.Errorf("case %d: Created = %v, want %v within 1ms (off by %v)", i, got.Created, c, d)
		}
	}
}

func testInsertExists(t *testing.T, s store.Store) {
	r := newRes(acct1, reg1, "channel", "a")
	r.Name = "original"
	insert(t, s, r)
	dup := newRes(acct1, reg1, "channel", "a")
	dup.Name = "duplicate"
	other := newRes(acct1, reg1, "channel", "b")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Insert(ctx, dup); !errors.Is(err, store.ErrExists) {
			t.Errorf("Insert of a taken ARN: %v, want ErrExists", err)
		}
		// ErrExists does not abort the transaction.
		return tx.Insert(ctx, other)
	})
	checkEqual(t, mustGet(t, s, r.ARN), r)
	checkEqual(t, mustGet(t, s, other.ARN), other)
	// ErrExists also when the first insert is in the same transaction.
	err := s.Update(ctxT(t), func(tx store.Tx) error {
		x := newRes(acct1, reg1, "channel", "c")
		if err := tx.Insert(ctxT(t), x); err != nil {
			return err
		}
		return tx.Insert(ctxT(t), newRes(acct1, reg1, "channel", "c"))
	})
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("second Insert in one Update: %v, want ErrExists", err)
	}
	if _, err := get(t, s, newRes(acct1, reg1, "channel", "c").ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after the failed Update: Get = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	insert(t, s, newRes(acct1, reg1, "channel", "exists"))
	missing := newRes(acct1, reg1, "channel", "missing")
	if _, err := get(t, s, missing.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get: %v, want ErrNotFound", err)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Get(ctx, missing.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get in Update: %v, want ErrNotFound", err)
		}
		if err := tx.Update(ctx, missing); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update: %v, want ErrNotFound", err)
		}
		if err := tx.Delete(ctx, missing.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete: %v, want ErrNotFound", err)
		}
		if _, err := tx.Get(ctx, ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(\"\"): %v, want ErrNotFound", err)
		}
		return nil
	})
	if rs := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel"}); len(rs) != 1 {
		t.Errorf("List after not-found operations: %d resources, want 1", len(rs))
	}
}

func testUpdate(t *testing.T, s store.Store) {
	p1 := newRes(acct1, reg1, "channel", "p1")
	p2 := newRes(acct1, reg1, "channel", "p2")
	refA, refB, refC := "arn:ref:a", "arn:ref:b", "arn:ref:c"
	r := newRes(acct1, reg1, "stream-key", "k")
	r.Name, r.Parent, r.Refs = "before", p1.ARN, []string{refA, refB}
	r.Tags = map[string]string{"a": "1", "b": "2"}
	insert(t, s, p1, p2, r)
	seq, created := r.Seq, r.Created

	u := newRes(acct1, reg1, "stream-key", "k")
	u.Name, u.Parent, u.Refs = "after", p2.ARN, []string{refC, refB}
	u.Tags = map[string]string{"b": "3", "c": "4"}
	u.Data = []byte(`{"v":2}`)
	u.Created = base.Add(time.Hour) // ignored
	u.Seq = seq + 1000              // ignored
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, u) })

	want := *u
	want.Seq, want.Created = seq, created
	checkEqual(t, mustGet(t, s, r.ARN), &want)

	// Name, Parent and Ref filters follow the update.
	q := store.ListQuery{Account: acct1, Region: reg1, Type: "stream-key"}
	for _, c := range []struct {
		q    func(q store.ListQuery) store.ListQuery
		want int
	}{
		{func(q store.ListQuery) store.ListQuery { q.Name = "before"; return q }, 0},
		{func(q store.ListQuery) store.ListQuery { q.Name = "after"; return q }, 1},
		{func(q store.ListQuery) store.ListQuery { q.Parent = p1.ARN; return q }, 0},
		{func(q store.ListQuery) store.ListQuery { q.Parent = p2.ARN; return q }, 1},
		{func(q store.ListQuery) store.ListQuery { q.Ref = refA; return q }, 0},
		{func(q store.ListQuery) store.ListQuery { q.Ref = refB; return q }, 1},
		{func(q store.ListQuery) store.ListQuery { q.Ref = refC; return q }, 1},
	} {
		qq := c.q(q)
		if got := list(t, s, qq); len(got) != c.want {
			t.Errorf("List %+v after Update: %d resources, want %d", qq, len(got), c.want)
		}
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for ref, want := range map[string]int{refA: 0, refB: 1, refC: 1} {
			got, err := tx.Referrers(ctx, ref, 0)
			if err != nil {
				return err
			}
			if len(got) != want {
				t.Errorf("Referrers(%s) = %q, want %d", ref, got, want)
			}
		}
		for parent, want := range map[string]int{p1.ARN: 0, p2.ARN: 1} {
			got, err := tx.Children(ctx, parent)
			if err != nil {
				return err
			}
			if len(got) != want {
				t.Errorf("Children(%s) = %d, want %d", parent, len(got), want)
			}
		}
		return nil
	})

	// Clearing every optional field.
	u2 := newRes(acct1, reg1, "stream-key", "k")
	u2.Data = nil
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, u2) })
	want2 := *u2
	want2.Seq, want2.Created = seq, created
	checkEqual(t, mustGet(t, s, r.ARN), &want2)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Referrers(ctx, refB, 0)
		if err == nil && len(got) != 0 {
			t.Errorf("Referrers after clearing Refs = %q", got)
		}
		return err
	})
}

func testDelete(t *testing.T, s store.Store) {
	p := newRes(acct1, reg1, "channel", "p")
	r := newRes(acct1, reg1, "stream-key", "k")
	r.Parent, r.Refs, r.Name = p.ARN, []string{"arn:ref:x"}, "n"
	keep := newRes(acct1, reg1, "stream-key", "keep")
	keep.Parent, keep.Refs = p.ARN, []string{"arn:ref:x"}
	insert(t, s, p, r, keep)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Delete(ctx, r.ARN); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete in the same Update: %v, want ErrNotFound", err)
		}
		if err := tx.Delete(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second Delete: %v, want ErrNotFound", err)
		}
		return nil
	})
	if _, err := get(t, s, r.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		rs, err := tx.List(ctx, store.ListQuery{Account: acct1, Region: reg1, Type: "stream-key"})
		if err != nil {
			return err
		}
		if !slices.Equal(arns(rs), arnsOf(keep)) {
			t.Errorf("List after Delete = %q", arns(rs))
		}
		if n, err := tx.Count(ctx, acct1, reg1, "stream-key"); err != nil || n != 1 {
			t.Errorf("Count after Delete = %d, %v; want 1", n, err)
		}
		if refs, err := tx.Referrers(ctx, "arn:ref:x", 0); err != nil || !slices.Equal(refs, arnsOf(keep)) {
			t.Errorf("Referrers after Delete = %q, %v", refs, err)
		}
		if ch, err := tx.Children(ctx, p.ARN); err != nil || !slices.Equal(arns(ch), arnsOf(keep)) {
			t.Errorf("Children after Delete = %q, %v", arns(ch), err)
		}
		for _, q := range []store.ListQuery{
			{Account: acct1, Region: reg1, Type: "stream-key", Name: "n"},
			{Account: acct1, Region: reg1, Type: "stream-key", Ref: "arn:ref:x", Name: "n"},
		} {
			if rs, err := tx.List(ctx, q); err != nil || len(rs) != 0 {
				t.Errorf("List %+v after Delete = %q, %v", q, arns(rs), err)
			}
		}
		return nil
	})
	// The ARN can be used again.
	again := newRes(acct1, reg1, "stream-key", "k")
	insert(t, s, again)
	if again.Seq <= keep.Seq {
		t.Errorf("re-inserted ARN got Seq %d, want > %d", again.Seq, keep.Seq)
	}
	checkEqual(t, mustGet(t, s, again.ARN), again)
}

// listFixture stores channels in acct1/reg1 mixed with resources of other accounts, regions and types.
func listFixture(t *testing.T, s store.Store) (chans []*store.Resource, parents []string) {
	parents = []string{"arn:parent:1", "arn:parent:2"}
	var all []*store.Resource
	for i := range 30 {
		c := newRes(acct1, reg1, "channel", fmt.Sprintf("c%02d", i))
		c.Name = []string{"alpha", "beta", "gamma"}[i%3]
		c.Parent = parents[i%2]
		switch i % 4 {
		case 0:
			c.Refs = []string{"arn:ref:rec1"}
		case 1:
			c.Refs = []string{"arn:ref:rec1", "arn:ref:pol1"}
		case 2:
			c.Refs = []string{"arn:ref:pol1"}
		}
		chans = append(chans, c)
		all = append(all, c)
		// Noise with the same names, parents and refs.
		for _, n := range []*store.Resource{
			newRes(acct2, reg1, "channel", fmt.Sprintf("x%02d", i)),
			newRes(acct1, reg2, "channel", fmt.Sprintf("y%02d", i)),
			newRes(acct1, reg1, "stream-key", fmt.Sprintf("z%02d", i)),
		} {
			n.Name, n.Parent, n.Refs = c.Name, c.Parent, c.Refs
			all = append(all, n)
		}
	}
	// Several Updates, so order is not one transaction's.
	for chunk := range slices.Chunk(all, 17) {
		insert(t, s, chunk...)
	}
	return chans, parents
}

func filter(rs []*store.Resource, keep func(r *store.Resource) bool) []*store.Resource {
	var out []*store.Resource
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func testListOrderAndFilters(t *testing.T, s store.Store) {
	chans, parents := listFixture(t, s)
	q := store.ListQuery{Account: acct1, Region: reg1, Type: "channel"}

	got := list(t, s, q)
	if !slices.Equal(arns(got), arns(chans)) {
		t.Fatalf("List all = %q\nwant %q", arns(got), arns(chans))
	}
	for i, r := range got {
		checkEqual(t, r, chans[i])
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Errorf("List not in Seq order at %d", i)
		}
	}

	has := func(refs []string, ref string) bool { return slices.Contains(refs, ref) }
	mid := chans[len(chans)/2].Seq
	cases := []struct {
		name string
		q    store.ListQuery
		want []*store.Resource
	}{
		{"Name", store.ListQuery{Name: "beta"}, filter(chans, func(r *store.Resource) bool { return r.Name == "beta" })},
		{"NameNone", store.ListQuery{Name: "delta"}, nil},
		{"Parent", store.ListQuery{Parent: parents[1]}, filter(chans, func(r *store.Resource) bool { return r.Parent == parents[1] })},
		{"Ref", store.ListQuery{Ref: "arn:ref:rec1"}, filter(chans, func(r *store.Resource) bool { return has(r.Refs, "arn:ref:rec1") })},
		{"Ref2", store.ListQuery{Ref: "arn:ref:pol1"}, filter(chans, func(r *store.Resource) bool { return has(r.Refs, "arn:ref:pol1") })},
		{"RefNone", store.ListQuery{Ref: "arn:ref:none"}, nil},
		{"NameParent", store.ListQuery{Name: "alpha", Parent: parents[0]}, filter(chans, func(r *store.Resource) bool {
			return r.Name == "alpha" && r.Parent == parents[0]
		})},
		{"NameRef", store.ListQuery{Name: "gamma", Ref: "arn:ref:pol1"}, filter(chans, func(r *store.Resource) bool {
			return r.Name == "gamma" && has(r.Refs, "arn:ref:pol1")
		})},
		{"ParentRef", store.ListQuery{Parent: parents[0], Ref: "arn:ref:rec1"}, filter(chans, func(r *store.Resource) bool {
			return r.Parent == parents[0] && has(r.Refs, "arn:ref:rec1")
		})},
		{"All3", store.ListQuery{Name: "beta", Parent: parents[1], Ref: "arn:ref:rec1"}, filter(chans, func(r *store.Resource) bool {
			return r.Name == "beta" && r.Parent == parents[1] && has(r.Refs, "arn:ref:rec1")
		})},
		{"AfterSeq", store.ListQuery{AfterSeq: mid}, filter(chans, func(r *store.Resource) bool { return r.Seq > mid })},
		{"AfterSeqEnd", store.ListQuery{AfterSeq: chans[len(chans)-1].Seq}, nil},
		{"Limit", store.ListQuery{Limit: 7}, chans[:7]},
		{"LimitHuge", store.ListQuery{Limit: 1000}, chans},
		{"LimitNegative", store.ListQuery{Limit: -1}, chans},
		{"AfterSeqLimit", store.ListQuery{AfterSeq: mid, Limit: 3}, filter(chans, func(r *store.Resource) bool { return r.Seq > mid })[:3]},
		{"NameAfterSeqLimit", store.ListQuery{Name: "alpha", AfterSeq: mid, Limit: 2}, filter(chans, func(r *store.Resource) bool {
			return r.Name == "alpha" && r.Seq > mid
		})[:2]},
		{"RefLimit", store.ListQuery{Ref: "arn:ref:pol1", Limit: 4}, filter(chans, func(r *store.Resource) bool { return has(r.Refs, "arn:ref:pol1") })[:4]},
	}
	for _, c := range cases {
		qq := c.q
		qq.Account, qq.Region, qq.Type = q.Account, q.Region, q.Type
		got := list(t, s, qq)
		if !slices.Equal(arns(got), arns(c.want)) {
			t.Errorf("%s: List %+v = %q\nwant %q", c.name, qq, arns(got), arns(c.want))
		}
	}
	// A resource referencing the same ARN twice is listed once.
	d := newRes(acct1, reg1, "channel", "dup")
	d.Refs = []string{"arn:ref:dup", "arn:ref:dup"}
	insert(t, s, d)
	if got := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel", Ref: "arn:ref:dup"}); len(got) != 1 {
		t.Errorf("List by a ref held twice: %d resources, want 1", len(got))
	}
}

func testListPagination(t *testing.T, s store.Store) {
	chans, _ := listFixture(t, s)
	for _, size := range []int{1, 4, 10, 30, 31} {
		var seen []string
		after := int64(0)
		for pages := 0; ; pages++ {
			if pages > len(chans)+1 {
				t.Fatalf("page size %d: pagination does not end", size)
			}
			page := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel", AfterSeq: after, Limit: size})
			if len(page) > size {
				t.Fatalf("page size %d: got %d", size, len(page))
			}
			seen = append(seen, arns(page)...)
			if len(page) < size {
				break
			}
			after = page[len(page)-1].Seq
		}
		if !slices.Equal(seen, arns(chans)) {
			t.Errorf("page size %d: paginated = %q\nwant %q", size, seen, arns(chans))
		}
	}
	// Deleting the cursor resource between pages does not break keyset pagination.
	first := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel", Limit: 5})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, first[4].ARN) })
	next := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel", AfterSeq: first[4].Seq, Limit: 5})
	if !slices.Equal(arns(next), arns(chans[5:10])) {
		t.Errorf("page after a deleted cursor = %q, want %q", arns(next), arns(chans[5:10]))
	}
}

func testIsolation(t *testing.T, s store.Store) {
	var all []*store.Resource
	for _, a := range []string{acct1, acct2} {
		for _, rg := range []string{reg1, reg2} {
			for _, typ := range []string{"channel", "stream-key"} {
				for i := range 3 {
					r := newRes(a, rg, typ, fmt.Sprintf("%s-%d", typ, i))
					r.Name = "same-name"
					r.Refs = []string{"arn:ref:shared"}
					r.Parent = "arn:parent:shared"
					all = append(all, r)
				}
			}
		}
	}
	insert(t, s, all...)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, a := range []string{acct1, acct2} {
			for _, rg := range []string{reg1, reg2} {
				for _, typ := range []string{"channel", "stream-key"} {
					want := filter(all, func(r *store.Resource) bool { return r.Account == a && r.Region == rg && r.Type == typ })
					for _, q := range []store.ListQuery{
						{Account: a, Region: rg, Type: typ},
						{Account: a, Region: rg, Type: typ, Name: "same-name"},
						{Account: a, Region: rg, Type: typ, Ref: "arn:ref:shared"},
						{Account: a, Region: rg, Type: typ, Parent: "arn:parent:shared"},
						{Account: a, Region: rg, Type: typ, Name: "same-name", Parent: "arn:parent:shared", Ref: "arn:ref:shared"},
					} {
						got, err := tx.List(ctx, q)
						if err != nil {
							return err
						}
						if !slices.Equal(arns(got), arns(want)) {
							t.Errorf("List %+v = %q\nwant %q", q, arns(got), arns(want))
						}
					}
					if n, err := tx.Count(ctx, a, rg, typ); err != nil || n != len(want) {
						t.Errorf("Count(%s, %s, %s) = %d, %v; want %d", a, rg, typ, n, err, len(want))
					}
				}
			}
		}
		// An unknown account, region or type has nothing.
		for _, q := range []store.ListQuery{
			{Account: "333333333333", Region: reg1, Type: "channel"},
			{Account: acct1, Region: "ap-south-1", Type: "channel"},
			{Account: acct1, Region: reg1, Type: "playback-key"},
			{Account: "", Region: "", Type: ""},
		} {
			got, err := tx.List(ctx, q)
			if err != nil {
				return err
			}
			if len(got) != 0 {
				t.Errorf("List %+v = %q, want none", q, arns(got))
			}
		}
		return nil
	})
}

func testCount(t *testing.T, s store.Store) {
	count := func(typ string) int {
		var n int
		view(t, s, func(ctx context.Context, tx store.Tx) error {
			var err error
			n, err = tx.Count(ctx, acct1, reg1, typ)
			return err
		})
		return n
	}
	if n := count("channel"); n != 0 {
		t.Errorf("Count of an empty store = %d", n)
	}
	var rs []*store.Resource
	for i := range 12 {
		rs = append(rs, newRes(acct1, reg1, "channel", strconv.Itoa(i)))
	}
	insert(t, s, rs...)
	insert(t, s, newRes(acct1, reg1, "stream-key", "k"), newRes(acct2, reg1, "channel", "o"))
	if n := count("channel"); n != 12 {
		t.Errorf("Count = %d, want 12", n)
	}
	if n := count("stream-key"); n != 1 {
		t.Errorf("Count(stream-key) = %d, want 1", n)
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, r := range rs[:5] {
			if err := tx.Delete(ctx, r.ARN); err != nil {
				return err
			}
		}
		// Count sees the transaction's own writes.
		if n, err := tx.Count(ctx, acct1, reg1, "channel"); err != nil || n != 7 {
			t.Errorf("Count inside the Update = %d, %v; want 7", n, err)
		}
		return nil
	})
	if n := count("channel"); n != 7 {
		t.Errorf("Count after deletes = %d, want 7", n)
	}
}

func testReferrers(t *testing.T, s store.Store) {
	target := "arn:aws:ivs:us-west-2:111111111111:recording-configuration/rc"
	var want []string
	var rs []*store.Resource
	for i := range 10 {
		// Referrers of several types and accounts.
		r := newRes([]string{acct1, acct2}[i%2], reg1, []string{"channel", "stage"}[i%2], strconv.Itoa(i))
		if i%3 != 2 {
			r.Refs = []string{"arn:other", target}
			want = append(want, r.ARN)
		} else {
			r.Refs = []string{"arn:other"}
		}
		rs = append(rs, r)
	}
	insert(t, s, rs[:4]...)
	insert(t, s, rs[4:]...)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []struct {
			limit int
			want  []string
		}{{0, want}, {-1, want}, {1, want[:1]}, {3, want[:3]}, {100, want}} {
			got, err := tx.Referrers(ctx, target, c.limit)
			if err != nil {
				return err
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Referrers(limit %d) = %q\nwant %q", c.limit, got, c.want)
			}
		}
		got, err := tx.Referrers(ctx, "arn:other", 0)
		if err != nil {
			return err
		}
		if !slices.Equal(got, arns(rs)) {
			t.Errorf("Referrers(arn:other) = %q\nwant %q", got, arns(rs))
		}
		got, err = tx.Referrers(ctx, "arn:nobody", 0)
		if err != nil {
			return err
		}
		if len(got) != 0 {
			t.Errorf("Referrers of an unreferenced ARN = %q", got)
		}
		return nil
	})
}

func testChildren(t *testing.T, s store.Store) {
	p := newRes(acct1, reg1, "channel", "p")
	other := newRes(acct1, reg1, "channel", "other")
	insert(t, s, p, other)
	var want []*store.Resource
	for i := range 6 {
		k := newRes(acct1, reg1, "stream-key", strconv.Itoa(i))
		if i%2 == 0 {
			k.Parent = p.ARN
			want = append(want, k)
		} else {
			k.Parent = other.ARN
		}
		k.Tags = map[string]string{"i": strconv.Itoa(i)}
		insert(t, s, k)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Children(ctx, p.ARN)
		if err != nil {
			return err
		}
		if !slices.Equal(arns(got), arns(want)) {
			t.Fatalf("Children = %q\nwant %q", arns(got), arns(want))
		}
		for i := range got {
			checkEqual(t, got[i], want[i])
		}
		none, err := tx.Children(ctx, want[0].ARN)
		if err != nil {
			return err
		}
		if len(none) != 0 {
			t.Errorf("Children of a leaf = %q", arns(none))
		}
		return nil
	})
}

func testSeqMonotonic(t *testing.T, s store.Store) {
	a, b, c := newRes(acct1, reg1, "channel", "a"), newRes(acct2, reg2, "stage", "b"), newRes(acct1, reg1, "channel", "c")
	insert(t, s, a)
	insert(t, s, b, c)
	if !(0 < a.Seq && a.Seq < b.Seq && b.Seq < c.Seq) {
		t.Fatalf("Seq %d, %d, %d: want strictly increasing", a.Seq, b.Seq, c.Seq)
	}
	// Deleting the newest resources does not free their Seq.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Delete(ctx, c.ARN); err != nil {
			return err
		}
		return tx.Delete(ctx, b.ARN)
	})
	d := newRes(acct1, reg1, "channel", "d")
	insert(t, s, d)
	if d.Seq <= c.Seq {
		t.Errorf("Seq after deleting the newest = %d, want > %d", d.Seq, c.Seq)
	}
	// Nor does deleting everything.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.Delete(ctx, a.ARN); err != nil {
			return err
		}
		return tx.Delete(ctx, d.ARN)
	})
	e := newRes(acct1, reg1, "channel", "c") // an old ARN
	insert(t, s, e)
	if e.Seq <= d.Seq {
		t.Errorf("Seq in an emptied store = %d, want > %d", e.Seq, d.Seq)
	}
	// Updates do not change Seq.
	e2 := newRes(acct1, reg1, "channel", "c")
	e2.Name = "renamed"
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, e2) })
	if got := mustGet(t, s, e.ARN); got.Seq != e.Seq {
		t.Errorf("Seq after Update = %d, want %d", got.Seq, e.Seq)
	}
}

// seed stores x (to be updated) and y (to be deleted) and returns them.
func seed(t *testing.T, s store.Store) (x, y *store.Resource) {
	x = newRes(acct1, reg1, "channel", "x")
	x.Name = "x"
	x.Refs = []string{"arn:ref:1"}
	y = newRes(acct1, reg1, "channel", "y")
	y.Parent = x.ARN
	insert(t, s, x, y)
	return x, y
}

// changeAll inserts, updates and deletes, then checks the transaction sees its own changes.
func changeAll(ctx context.Context, t *testing.T, tx store.Tx, x, y *store.Resource) {
	if err := tx.Insert(ctx, newRes(acct1, reg1, "channel", "new")); err != nil {
		t.Errorf("Insert: %v", err)
	}
	u := *x
	u.Name, u.Refs = "changed", []string{"arn:ref:2"}
	if err := tx.Update(ctx, &u); err != nil {
		t.Errorf("Update: %v", err)
	}
	if err := tx.Delete(ctx, y.ARN); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if n, err := tx.Count(ctx, acct1, reg1, "channel"); err != nil || n != 2 {
		t.Errorf("Count inside = %d, %v; want 2", n, err)
	}
}

// checkSeeded fails unless the store holds exactly what seed stored.
func checkSeeded(t *testing.T, s store.Store, x, y *store.Resource) {
	t.Helper()
	checkEqual(t, mustGet(t, s, x.ARN), x)
	checkEqual(t, mustGet(t, s, y.ARN), y)
	if _, err := get(t, s, newRes(acct1, reg1, "channel", "new").ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rolled-back insert: Get = %v, want ErrNotFound", err)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		if refs, err := tx.Referrers(ctx, "arn:ref:2", 0); err != nil || len(refs) != 0 {
			t.Errorf("rolled-back refs: Referrers = %q, %v", refs, err)
		}
		if ch, err := tx.Children(ctx, x.ARN); err != nil || len(ch) != 1 {
			t.Errorf("rolled-back delete: Children = %d, %v; want 1", len(ch), err)
		}
		return nil
	})
	if got := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "channel"}); !slices.Equal(arns(got), arnsOf(x, y)) {
		t.Errorf("List after rollback = %q", arns(got))
	}
}

type sentinel struct{ msg string }

func (e *sentinel) Error() string { return e.msg }

func testRollbackOnError(t *testing.T, s store.Store) {
	x, y := seed(t, s)
	cause := &sentinel{"provider failure"}
	wrapped := fmt.Errorf("provider: %w", cause)
	err := s.Update(ctxT(t), func(tx store.Tx) error {
		changeAll(ctxT(t), t, tx, x, y)
		return wrapped
	})
	if err != wrapped { //nolint:errorlint // the very same error
		t.Errorf("Update returned %v, want fn's error unchanged", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, sentinel) = false", err)
	}
	checkSeeded(t, s, x, y)
	// An error from the store itself, returned by fn, rolls back too.
	err = s.Update(ctxT(t), func(tx store.Tx) error {
		changeAll(ctxT(t), t, tx, x, y)
		return tx.Delete(ctxT(t), "arn:missing")
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update returned %v, want ErrNotFound", err)
	}
	checkSeeded(t, s, x, y)
	// The store still works.
	insert(t, s, newRes(acct1, reg1, "channel", "after"))
}

func testRollbackOnPanic(t *testing.T, s store.Store) {
	x, y := seed(t, s)
	type boom struct{ n int }
	func() {
		defer func() {
			if p := recover(); p != (boom{42}) {
				t.Errorf("recovered %v, want the panic value from fn", p)
			}
		}()
		_ = s.Update(ctxT(t), func(tx store.Tx) error {
			changeAll(ctxT(t), t, tx, x, y)
			panic(boom{42})
		})
		t.Error("Update returned after fn panicked")
	}()
	checkSeeded(t, s, x, y)
	// A panicking View releases what it holds too.
	func() {
		defer func() { _ = recover() }()
		_ = s.View(ctxT(t), func(tx store.Tx) error {
			_, _ = tx.Get(ctxT(t), x.ARN)
			panic("view")
		})
	}()
	// The store still works, for writes and reads, as often as it has connections and more.
	for i := range 20 {
		insert(t, s, newRes(acct1, reg1, "channel", "after"+strconv.Itoa(i)))
		mustGet(t, s, x.ARN)
	}
}

func testReadYourWrites(t *testing.T, s store.Store) {
	x, _ := seed(t, s)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n := newRes(acct1, reg1, "channel", "n")
		n.Name = "x"
		n.Refs = []string{"arn:ref:1"}
		n.Parent = x.ARN
		if err := tx.Insert(ctx, n); err != nil {
			return err
		}
		got, err := tx.Get(ctx, n.ARN)
		if err != nil {
			return err
		}
		checkEqual(t, got, n)
		rs, err := tx.List(ctx, store.ListQuery{Account: acct1, Region: reg1, Type: "channel", Name: "x", Ref: "arn:ref:1"})
		if err != nil {
			return err
		}
		if !slices.Equal(arns(rs), arnsOf(x, n)) {
			t.Errorf("List inside the Update = %q", arns(rs))
		}
		refs, err := tx.Referrers(ctx, "arn:ref:1", 0)
		if err != nil {
			return err
		}
		if !slices.Equal(refs, arnsOf(x, n)) {
			t.Errorf("Referrers inside the Update = %q", refs)
		}
		ch, err := tx.Children(ctx, x.ARN)
		if err != nil {
			return err
		}
		if len(ch) != 2 {
			t.Errorf("Children inside the Update = %q", arns(ch))
		}
		// Views do not see the uncommitted insert.
		if _, err := get(t, s, n.ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("View during the Update: Get = %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testViewIsReadOnly(t *testing.T, s store.Store) {
	x, _ := seed(t, s)
	ctx := ctxT(t)
	_ = s.View(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, newRes(acct1, reg1, "channel", "v")); err == nil {
			t.Error("Insert in a View succeeded")
		}
		u := *x
		u.Name = "changed"
		if err := tx.Update(ctx, &u); err == nil {
			t.Error("Update in a View succeeded")
		}
		if err := tx.Delete(ctx, x.ARN); err == nil {
			t.Error("Delete in a View succeeded")
		}
		return nil
	})
	checkEqual(t, mustGet(t, s, x.ARN), x)
	if _, err := get(t, s, newRes(acct1, reg1, "channel", "v").ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of the View's insert: %v, want ErrNotFound", err)
	}
}

func testTxAfterReturn(t *testing.T, s store.Store) {
	x, _ := seed(t, s)
	ctx := ctxT(t)
	var vtx, utx store.Tx
	view(t, s, func(_ context.Context, tx store.Tx) error { vtx = tx; return nil })
	update(t, s, func(_ context.Context, tx store.Tx) error { utx = tx; return nil })
	if _, err := vtx.Get(ctx, x.ARN); err == nil {
		t.Error("Get on a finished View Tx succeeded")
	}
	if _, err := utx.Get(ctx, x.ARN); err == nil {
		t.Error("Get on a finished Update Tx succeeded")
	}
	if err := utx.Insert(ctx, newRes(acct1, reg1, "channel", "late")); err == nil {
		t.Error("Insert on a finished Update Tx succeeded")
	}
	if _, err := get(t, s, newRes(acct1, reg1, "channel", "late").ARN); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("late Insert stored: Get = %v", err)
	}
}

// testStoreGet: Store.Get returns the latest committed version, sees every acknowledged write, and a caller's
// changes to what it returned do not leak into later reads.
func testStoreGet(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	r := newRes("111111111111", "us-west-2", "channel", "storeget")
	if _, err := s.Get(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing resource: %v", err)
	}
	insert(t, s, r)
	for i := 0; i < 3; i++ {
		got, err := s.Get(ctx, r.ARN)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("v%d", i)
		if i > 0 && got.Name != fmt.Sprintf("v%d", i-1) {
			t.Fatalf("Get = name %q before update %d", got.Name, i)
		}
		got.Tags["leak"] = "x"
		got.Name = want
		update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Update(ctx, got) })
		again, err := s.Get(ctx, r.ARN)
		if err != nil || again.Name != want {
			t.Fatalf("Get after an acknowledged Update = %+v, %v; want name %q", again, err, want)
		}
		delete(again.Tags, "leak")
		again.Name = "changed by the caller"
		if third, _ := s.Get(ctx, r.ARN); third.Name != want || third.Tags["leak"] != "x" {
			t.Fatalf("a caller's change to a Get result leaked: %+v", third)
		}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Delete(ctx, r.ARN) })
	if _, err := s.Get(ctx, r.ARN); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
}

// testFindByID finds resources by type and id across accounts and regions.
func testFindByID(t *testing.T, s store.Store) {
	a := newRes("111111111111", "us-west-2", "stream-key", "findme")
	b := newRes("222222222222", "eu-west-1", "stream-key", "other")
	c := newRes("222222222222", "eu-west-1", "channel", "findme")
	insert(t, s, a, b, c)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.FindByID(ctx, "stream-key", "findme")
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].ARN != a.ARN {
			t.Fatalf("FindByID(stream-key, findme) = %v", got)
		}
		got, err = tx.FindByID(ctx, "stream-key", "nope")
		if err != nil || len(got) != 0 {
			t.Fatalf("FindByID of a missing id = %v, %v", got, err)
		}
		return nil
	})
}

func testMeta(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if v, ok, err := s.Meta(ctx, "secret"); err != nil || ok || v != nil {
		t.Fatalf("Meta of an unset key = %q, %v, %v", v, ok, err)
	}
	first := []byte{0, 1, 2, 0xff, 'a'}
	v, err := s.SetMetaIfAbsent(ctx, "secret", first)
	if err != nil || !bytes.Equal(v, first) {
		t.Fatalf("SetMetaIfAbsent = %q, %v; want %q", v, err, first)
	}
	v, err = s.SetMetaIfAbsent(ctx, "secret", []byte("second"))
	if err != nil || !bytes.Equal(v, first) {
		t.Fatalf("second SetMetaIfAbsent = %q, %v; want the first value %q", v, err, first)
	}
	if v, ok, err := s.Meta(ctx, "secret"); err != nil || !ok || !bytes.Equal(v, first) {
		t.Fatalf("Meta = %q, %v, %v; want %q", v, ok, err, first)
	}
	if v, err := s.SetMetaIfAbsent(ctx, "empty", []byte{}); err != nil || len(v) != 0 {
		t.Fatalf("SetMetaIfAbsent(empty) = %q, %v", v, err)
	}
	if v, ok, err := s.Meta(ctx, "empty"); err != nil || !ok || len(v) != 0 {
		t.Fatalf("Meta(empty) = %q, %v, %v; want set and empty", v, ok, err)
	}
	// Meta values are not resources.
	if got := list(t, s, store.ListQuery{Account: "", Region: "", Type: ""}); len(got) != 0 {
		t.Errorf("List of empty identity = %q", arns(got))
	}
	// Concurrent SetMetaIfAbsent calls agree on one winner.
	var wg sync.WaitGroup
	results := make([][]byte, 16)
	for i := range results {
		wg.Go(func() {
			v, err := s.SetMetaIfAbsent(ctx, "race", []byte(strconv.Itoa(i)))
			if err != nil {
				t.Errorf("SetMetaIfAbsent: %v", err)
			}
			results[i] = v
		})
	}
	wg.Wait()
	for _, r := range results {
		if !bytes.Equal(r, results[0]) {
			t.Fatalf("concurrent SetMetaIfAbsent results differ: %q", results)
		}
	}
}

func testContextCanceled(t *testing.T, s store.Store) {
	x, _ := seed(t, s)
	ctx, cancel := context.WithCancel(ctxT(t))
	cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, newRes(acct1, reg1, "channel", "canceled"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context: %v, want context.Canceled", err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		_, err := tx.Get(ctx, x.ARN)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("View with a canceled context: %v, want context.Canceled", err)
	}
	if _, _, err := s.Meta(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Meta with a canceled context: %v, want context.Canceled", err)
	}
	// Canceled while fn runs, and fn ignores the errors: nothing is committed.
	ctx2, cancel2 := context.WithCancel(ctxT(t))
	err = s.Update(ctx2, func(tx store.Tx) error {
		_ = tx.Insert(ctx2, newRes(acct1, reg1, "channel", "half"))
		cancel2()
		_ = tx.Insert(ctx2, newRes(acct1, reg1, "channel", "half2"))
		return nil
	})
	if err == nil {
		t.Error("Update whose context was canceled while fn ran returned nil")
	}
	for _, id := range []string{"canceled", "half", "half2"} {
		if _, err := get(t, s, newRes(acct1, reg1, "channel", id).ARN); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get %s after canceled Updates: %v, want ErrNotFound", id, err)
		}
	}
	// The store still works.
	insert(t, s, newRes(acct1, reg1, "channel", "after"))
	mustGet(t, s, x.ARN)
}

func testLargeData(t *testing.T, s store.Store) {
	r := newRes(acct1, reg1, "channel", "big")
	r.Data = bytes.Repeat([]byte(`{"k":"0123456789abcdef"},`), 1<<16) // 1.6 MB
	r.Tags = map[string]string{}
	for i := range 50 {
		r.Tags["key"+strconv.Itoa(i)] = string(bytes.Repeat([]byte{'v'}, 256))
	}
	insert(t, s, r)
	checkEqual(t, mustGet(t, s, r.ARN), r)
}

// testConcurrentViews checks that Views running while Updates commit see either the state before or after each
// Update, never a mix: every Update moves resources a and b to the same new generation and adds one item, so in
// any consistent snapshot a, b and the item count agree.
func testConcurrentViews(t *testing.T, s store.Store) {
	a, b := newRes(acct1, reg1, "channel", "a"), newRes(acct1, reg1, "channel", "b")
	a.Data, b.Data = []byte("0"), []byte("0")
	insert(t, s, a, b)
	const updates = 150
	ctx := ctxT(t)
	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				err := s.View(ctx, func(tx store.Tx) error {
					ra, err := tx.Get(ctx, a.ARN)
					if err != nil {
						return err
					}
					items, err := tx.List(ctx, store.ListQuery{Account: acct1, Region: reg1, Type: "item"})
					if err != nil {
						return err
					}
					n, err := tx.Count(ctx, acct1, reg1, "item")
					if err != nil {
						return err
					}
					rb, err := tx.Get(ctx, b.ARN)
					if err != nil {
						return err
					}
					ga, gb := string(ra.Data), string(rb.Data)
					if ga != gb || ga != strconv.Itoa(n) || len(items) != n {
						t.Errorf("torn read: a=%s b=%s count=%d list=%d", ga, gb, n, len(items))
					}
					return nil
				})
				if err != nil {
					t.Errorf("View: %v", err)
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := 1; i <= updates; i++ {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			ua, ub := *a, *b
			ua.Data = []byte(strconv.Itoa(i))
			if err := tx.Update(ctx, &ua); err != nil {
				return err
			}
			if err := tx.Insert(ctx, newRes(acct1, reg1, "item", strconv.Itoa(i))); err != nil {
				return err
			}
			ub.Data = []byte(strconv.Itoa(i))
			return tx.Update(ctx, &ub)
		})
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("no View completed")
	}
	if got := mustGet(t, s, b.ARN); string(got.Data) != strconv.Itoa(updates) {
		t.Errorf("final b = %s, want %d", got.Data, updates)
	}
}

// testConcurrentUpdates runs many Updates at once, each a read-modify-write of one counter plus an insert: with
// serialised Updates no increment is lost and every insert is kept.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	counter := newRes(acct1, reg1, "channel", "counter")
	counter.Data = []byte("0")
	insert(t, s, counter)
	const workers, each = 16, 15
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				err := s.Update(ctx, func(tx store.Tx) error {
					c, err := tx.Get(ctx, counter.ARN)
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(c.Data))
					if err != nil {
						return err
					}
					c.Data = []byte(strconv.Itoa(n + 1))
					if err := tx.Update(ctx, c); err != nil {
						return err
					}
					return tx.Insert(ctx, newRes(acct1, reg1, "item", fmt.Sprintf("%d-%d", w, i)))
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := mustGet(t, s, counter.ARN); string(got.Data) != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d", got.Data, workers*each)
	}
	items := list(t, s, store.ListQuery{Account: acct1, Region: reg1, Type: "item"})
	if len(items) != workers*each {
		t.Fatalf("%d items, want %d", len(items), workers*each)
	}
	seen := map[int64]bool{}
	for i, r := range items {
		if seen[r.Seq] || (i > 0 && r.Seq <= items[i-1].Seq) {
			t.Fatalf("Seq %d repeated or out of order", r.Seq)
		}
		seen[r.Seq] = true
	}
}
