package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/openivs/openivs/internal/store"
)

var (
	errReadOnly = errors.New("store: write in a read-only transaction (View)")
	errTxDone   = errors.New("store: transaction used after its function returned")
)

// bg is the context of statements that are not worth interrupting: point lookups and single-row writes take
// microseconds, and an interrupted write makes SQLite roll back the whole transaction by itself. The caller's
// context is checked before each of them instead. Statements that can run long (List, Count, Children,
// Referrers) get the caller's context, so cancellation interrupts them.
var bg = context.Background()

// tx implements store.Tx on a conn. It is not safe for concurrent use.
type tx struct {
	c     *conn
	wrote []string // ARNs an Update wrote, invalidated in the cache after commit
	write bool
	begun bool  // a read transaction is started lazily, by the first statement
	done  bool  // fn returned
	err   error // the first unexpected error: the transaction is aborted
}

var _ store.Tx = (*tx)(nil)

// ready checks that t can run a statement, starting a read transaction if needed.
func (t *tx) ready(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if t.err != nil {
		return fmt.Errorf("transaction aborted by an earlier error: %w", t.err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !t.begun {
		if err := t.c.control(sBegin); err != nil {
			return t.fail(err)
		}
		t.begun = true
	}
	return nil
}

func (t *tx) writable(ctx context.Context) error {
	if !t.write {
		if t.done {
			return errTxDone
		}
		return errReadOnly
	}
	return t.ready(ctx)
}

// fail records err as the error that aborted the transaction, and returns it. After a failed statement SQLite
// may have rolled the transaction back by itself, so nothing more may run in it, and an Update must not commit.
func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

// query prepares (once per connection) and runs a statement. The caller must close the rows.
func (t *tx) query(ctx context.Context, id int, args ...driver.Value) (driver.Rows, error) {
	st, err := t.c.stmt(id)
	if err != nil {
		return nil, t.fail(err)
	}
	rows, err := t.c.query(ctx, st, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	return rows, nil
}

func (t *tx) exec(id int, args ...driver.Value) (driver.Result, error) {
	st, err := t.c.stmt(id)
	if err != nil {
		return nil, t.fail(err)
	}
	res, err := t.c.exec(bg, st, args...)
	if err != nil {
		return nil, t.fail(err)
	}
	return res, nil
}

// row reads the single row of rows into the connection's buffer and closes rows.
func (t *tx) row(rows driver.Rows, n int) ([]driver.Value, bool, error) {
	dest := t.dest(n)
	ok, err := row(rows, dest)
	if err != nil {
		return nil, false, t.fail(err)
	}
	return dest, ok, nil
}

func (t *tx) dest(n int) []driver.Value {
	if cap(t.c.dest) < n {
		t.c.dest = make([]driver.Value, nCols)
	}
	return t.c.dest[:n]
}

// scanResources reads the rows (cols) of rows, at most limit of them when limit > 0, and closes it.
func (t *tx) scanResources(rows driver.Rows, limit int) ([]*store.Resource, error) {
	var out []*store.Resource
	dest := t.dest(nCols)
	defer clear(dest) // do not keep the last row's values alive in an idle connection
	for limit <= 0 || len(out) < limit {
		err := rows.Next(dest)
		if err == io.EOF {
			break
		}
		if err == nil {
			var r *store.Resource
			if r, err = decodeResource(dest); err == nil {
				out = append(out, r)
				continue
			}
		}
		return nil, t.fail(errors.Join(err, rows.Close()))
	}
	if err := rows.Close(); err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

// decodeResource makes a Resource of a row of cols. The driver allocates every TEXT and BLOB value anew, so the
// Resource can keep them.
func decodeResource(v []driver.Value) (*store.Resource, error) {
	r := &store.Resource{}
	var ok [nCols]bool
	var refs, tags string
	var created int64
	r.ARN, ok[0] = v[0].(string)
	r.Account, ok[1] = v[1].(string)
	r.Region, ok[2] = v[2].(string)
	r.Type, ok[3] = v[3].(string)
	r.ID, ok[4] = v[4].(string)
	r.Name, ok[5] = v[5].(string)
	r.Parent, ok[6] = v[6].(string)
	refs, ok[7] = v[7].(string)
	tags, ok[8] = v[8].(string)
	r.Data, ok[9] = v[9].([]byte)
	created, ok[10] = v[10].(int64)
	r.Seq, ok[11] = v[11].(int64)
	for i, good := range ok {
		if !good && !(v[i] == nil && (i == 7 || i == 8 || i == 9)) { // refs, tags and data may be NULL
			return nil, fmt.Errorf("unexpected %T in column %d of seq %v", v[i], i, v[11])
		}
	}
	var err error
	if refs != "" {
		if r.Refs, err = decodeRefs(refs); err != nil {
			return nil, fmt.Errorf("decode refs of seq %d: %w", r.Seq, err)
		}
	}
	if tags != "" {
		if r.Tags, err = decodeTags(tags); err != nil {
			return nil, fmt.Errorf("decode tags of seq %d: %w", r.Seq, err)
		}
	}
	if r.Tags == nil {
		r.Tags = map[string]string{}
	}
	r.Created = time.UnixMicro(created).UTC()
	return r, nil
}

// encode returns the refs and tags column values of r: JSON, or NULL when empty. Strings must be valid UTF-8:
// encoding/json would silently replace invalid bytes, and the store promises an exact round trip.
func encode(r *store.Resource) (refs, tags driver.Value, err error) {
	if len(r.Refs) > 0 {
		for _, s := range r.Refs {
			if !utf8.ValidString(s) {
				return nil, nil, errors.New("a ref is not valid UTF-8")
			}
		}
		b, err := json.Marshal(r.Refs)
		if err != nil {
			return nil, nil, err
		}
		refs = string(b)
	}
	if len(r.Tags) > 0 {
		for k, v := range r.Tags {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, errors.New("a tag is not valid UTF-8")
			}
		}
		b, err := json.Marshal(r.Tags)
		if err != nil {
			return nil, nil, err
		}
		tags = string(b)
	}
	return refs, tags, nil
}

// blob is the data column value of b: NULL for nil.
func blob(b []byte) driver.Value {
	if b == nil {
		return nil
	}
	return b
}

// insertRefs adds the refs rows of a resource.
func (t *tx) insertRefs(arn string, refs []string, seq int64) error {
	for _, ref := range refs {
		if _, err := t.exec(sInsertRef, arn, ref, seq); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) Get(ctx context.Context, arn string) (*store.Resource, error) {
	if err := t.ready(ctx); err != nil {
		return nil, fmt.Errorf("store: get %s: %w", arn, err)
	}
	rows, err := t.query(bg, sGet, arn)
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", arn, err)
	}
	rs, err := t.scanResources(rows, 1)
	if err != nil {
		return nil, fmt.Errorf("store: get %s: %w", arn, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("store: get %s: %w", arn, store.ErrNotFound)
	}
	return rs[0], nil
}

// Insert stores r and sets r.Seq.
func (t *tx) Insert(ctx context.Context, r *store.Resource) error {
	if err := t.writable(ctx); err != nil {
		return fmt.Errorf("store: insert %s: %w", r.ARN, err)
	}
	t.wrote = append(t.wrote, r.ARN) // invalidated in the cache after commit, even if this write fails
	if r.ARN == "" {
		return errors.New("store: insert: empty ARN")
	}
	refs, tags, err := encode(r)
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", r.ARN, err)
	}
	rows, err := t.query(bg, sInsert, r.ARN, r.Account, r.Region, r.Type, r.ID, r.Name, r.Parent, refs, tags,
		blob(r.Data), r.Created.UnixMicro())
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", r.ARN, err)
	}
	v, ok, err := t.row(rows, 1)
	if err != nil {
		return fmt.Errorf("store: insert %s: %w", r.ARN, err)
	}
	if !ok { // ON CONFLICT DO NOTHING: no row inserted, none returned
		return fmt.Errorf("store: insert %s: %w", r.ARN, store.ErrExists)
	}
	seq, ok := v[0].(int64)
	if !ok {
		return fmt.Errorf("store: insert %s: %w", r.ARN, t.fail(fmt.Errorf("seq is %T", v[0])))
	}
	if err := t.insertRefs(r.ARN, r.Refs, seq); err != nil {
		return fmt.Errorf("store: insert %s: refs: %w", r.ARN, err)
	}
	r.Seq = seq
	return nil
}

// Update replaces the stored resource; it also sets r.Seq and r.Created to the stored values.
func (t *tx) Update(ctx context.Context, r *store.Resource) error {
	if err := t.writable(ctx); err != nil {
		return fmt.Errorf("store: update %s: %w", r.ARN, err)
	}
	t.wrote = append(t.wrote, r.ARN) // invalidated in the cache after commit, even if this write fails
	refs, tags, err := encode(r)
	if err != nil {
		return fmt.Errorf("store: update %s: %w", r.ARN, err)
	}
	rows, err := t.query(bg, sUpdate, r.Account, r.Region, r.Type, r.ID, r.Name, r.Parent, refs, tags, blob(r.Data),
		r.ARN)
	if err != nil {
		return fmt.Errorf("store: update %s: %w", r.ARN, err)
	}
	v, ok, err := t.row(rows, 2)
	if err != nil {
		return fmt.Errorf("store: update %s: %w", r.ARN, err)
	}
	if !ok {
		return fmt.Errorf("store: update %s: %w", r.ARN, store.ErrNotFound)
	}
	seq, ok1 := v[0].(int64)
	created, ok2 := v[1].(int64)
	if !ok1 || !ok2 {
		return fmt.Errorf("store: update %s: %w", r.ARN, t.fail(fmt.Errorf("seq, created are %T, %T", v[0], v[1])))
	}
	if _, err := t.exec(sDeleteRefs, r.ARN); err != nil {
		return fmt.Errorf("store: update %s: refs: %w", r.ARN, err)
	}
	if err := t.insertRefs(r.ARN, r.Refs, seq); err != nil {
		return fmt.Errorf("store: update %s: refs: %w", r.ARN, err)
	}
	r.Seq = seq
	r.Created = time.UnixMicro(created).UTC()
	return nil
}

func (t *tx) Delete(ctx context.Context, arn string) error {
	if err := t.writable(ctx); err != nil {
		return fmt.Errorf("store: delete %s: %w", arn, err)
	}
	t.wrote = append(t.wrote, arn) // invalidated in the cache after commit, even if this write fails
	res, err := t.exec(sDelete, arn)
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", arn, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: delete %s: %w", arn, t.fail(err))
	}
	if n == 0 {
		return fmt.Errorf("store: delete %s: %w", arn, store.ErrNotFound)
	}
	if _, err := t.exec(sDeleteRefs, arn); err != nil {
		return fmt.Errorf("store: delete %s: refs: %w", arn, err)
	}
	return nil
}

func (t *tx) List(ctx context.Context, q store.ListQuery) ([]*store.Resource, error) {
	if err := t.ready(ctx); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", q.Type, err)
	}
	var buf [7]driver.Value
	args := append(buf[:0], q.Account, q.Region, q.Type, q.AfterSeq)
	flags := 0
	if q.Name != "" {
		flags |= lName
		args = append(args, q.Name)
	}
	if q.Parent != "" {
		flags |= lParent
		args = append(args, q.Parent)
	}
	if q.Ref != "" {
		flags |= lRef
		args = append(args, q.Ref)
	}
	st, err := t.c.list(flags)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", q.Type, t.fail(err))
	}
	rows, err := t.c.query(ctx, st, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", q.Type, t.fail(err))
	}
	rs, err := t.scanResources(rows, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", q.Type, err)
	}
	return rs, nil
}

func (t *tx) Count(ctx context.Context, account, region, typ string) (int, error) {
	if err := t.ready(ctx); err != nil {
		return 0, fmt.Errorf("store: count %s: %w", typ, err)
	}
	rows, err := t.query(ctx, sCount, account, region, typ)
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", typ, err)
	}
	v, ok, err := t.row(rows, 1)
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", typ, err)
	}
	n, isInt := v[0].(int64)
	if !ok || !isInt {
		return 0, fmt.Errorf("store: count %s: %w", typ, t.fail(errors.New("no count")))
	}
	return int(n), nil
}

func (t *tx) Referrers(ctx context.Context, arn string, n int) ([]string, error) {
	if err := t.ready(ctx); err != nil {
		return nil, fmt.Errorf("store: referrers of %s: %w", arn, err)
	}
	if arn == "" {
		return nil, nil
	}
	rows, err := t.query(ctx, sReferrers, arn)
	if err != nil {
		return nil, fmt.Errorf("store: referrers of %s: %w", arn, err)
	}
	var out []string
	dest := t.dest(1)
	for n <= 0 || len(out) < n {
		err = rows.Next(dest)
		if err == io.EOF {
			err = nil
			break
		}
		s, ok := dest[0].(string)
		if err == nil && !ok {
			err = fmt.Errorf("referrer is %T", dest[0])
		}
		if err != nil {
			break
		}
		out = append(out, s)
	}
	if err = errors.Join(err, rows.Close()); err != nil {
		return nil, fmt.Errorf("store: referrers of %s: %w", arn, t.fail(err))
	}
	return out, nil
}

func (t *tx) Children(ctx context.Context, arn string) ([]*store.Resource, error) {
	if err := t.ready(ctx); err != nil {
		return nil, fmt.Errorf("store: children of %s: %w", arn, err)
	}
	if arn == "" {
		return nil, nil
	}
	rows, err := t.query(ctx, sChildren, arn)
	if err != nil {
		return nil, fmt.Errorf("store: children of %s: %w", arn, err)
	}
	rs, err := t.scanResources(rows, 0)
	if err != nil {
		return nil, fmt.Errorf("store: children of %s: %w", arn, err)
	}
	return rs, nil
}

// FindByID returns the resources of type typ with the id, in any account and region.
func (t *tx) FindByID(ctx context.Context, typ, id string) ([]*store.Resource, error) {
	if err := t.ready(ctx); err != nil {
		return nil, fmt.Errorf("store: find %s %s: %w", typ, id, err)
	}
	rows, err := t.query(bg, sFindByID, typ, id)
	if err != nil {
		return nil, fmt.Errorf("store: find %s %s: %w", typ, id, err)
	}
	rs, err := t.scanResources(rows, 0)
	if err != nil {
		return nil, fmt.Errorf("store: find %s %s: %w", typ, id, err)
	}
	return rs, nil
}

func (t *tx) meta(ctx context.Context, key string) ([]byte, bool, error) {
	if err := t.ready(ctx); err != nil {
		return nil, false, err
	}
	rows, err := t.query(bg, sMetaGet, key)
	if err != nil {
		return nil, false, err
	}
	v, ok, err := t.row(rows, 1)
	if err != nil || !ok {
		return nil, false, err
	}
	switch b := v[0].(type) {
	case []byte:
		return b, true, nil
	case nil: // the driver reads an empty BLOB as NULL
		return []byte{}, true, nil
	default:
		return nil, false, t.fail(fmt.Errorf("meta value is %T", v[0]))
	}
}

func (t *tx) setMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if err := t.writable(ctx); err != nil {
		return nil, err
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := t.exec(sMetaInsert, key, value); err != nil {
		return nil, err
	}
	v, _, err := t.meta(ctx, key)
	return v, err
}
