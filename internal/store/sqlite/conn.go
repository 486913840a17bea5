package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"

	msqlite "modernc.org/sqlite"
)

// The store talks to modernc.org/sqlite through the database/sql/driver interfaces, not through database/sql: it
// keeps its own small pools of dedicated connections anyway (one writer, a few readers), and going through
// database/sql would add, per statement, its locking, argument conversion, a goroutine watching the context of
// every Rows, and reflection-based Scan, for nothing. See BenchmarkGet.

// drv opens connections. The zero Driver is the package's default minus registered extensions, which the store
// does not use.
var drv msqlite.Driver

// driverConn is what the store needs of a modernc.org/sqlite connection.
type driverConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
}

// driverStmt is what the store needs of a modernc.org/sqlite prepared statement.
type driverStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// Statements every connection may prepare, by id. They are prepared on first use and cached per connection.
const (
	sBegin = iota
	sBeginImmediate
	sCommit
	sRollback
	sGet
	sCount
	sReferrers
	sChildren
	sMetaGet
	sInsert
	sInsertRef
	sUpdate
	sDeleteRefs
	sDelete
	sMetaInsert
	sFindByID
	sSavepoint
	sRollbackTo
	sRelease
	nStmts
)

// cols are the resources columns scanResources reads, in its order.
const (
	cols  = "arn, account, region, type, id, name, parent, refs, tags, data, created, seq"
	nCols = 12
)

var stmtSQL = [nStmts]string{
	sBegin:          "BEGIN",
	sBeginImmediate: "BEGIN IMMEDIATE",
	sCommit:         "COMMIT",
	sRollback:       "ROLLBACK",
	sFindByID:       "SELECT " + cols + " FROM resources WHERE type = ? AND id = ? ORDER BY seq",
	sSavepoint:      "SAVEPOINT u",
	sRollbackTo:     "ROLLBACK TO u",
	sRelease:        "RELEASE u",
	sGet:            "SELECT " + cols + " FROM resources WHERE arn = ?",
	sCount:          "SELECT coalesce((SELECT n FROM counts WHERE account = ? AND region = ? AND type = ?), 0)",
	sReferrers:      "SELECT arn FROM refs WHERE ref = ? ORDER BY seq",
	sChildren:       "SELECT " + cols + " FROM resources WHERE parent = ? ORDER BY seq",
	sMetaGet:        "SELECT value FROM meta WHERE key = ?",
	sInsert: "INSERT INTO resources (arn, account, region, type, id, name, parent, refs, tags, data, created) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (arn) DO NOTHING RETURNING seq",
	sInsertRef: "INSERT OR IGNORE INTO refs (arn, ref, seq) VALUES (?, ?, ?)",
	sUpdate: "UPDATE resources SET account = ?, region = ?, type = ?, id = ?, name = ?, parent = ?, refs = ?, " +
		"tags = ?, data = ? WHERE arn = ? RETURNING seq, created",
	sDeleteRefs: "DELETE FROM refs WHERE arn = ?",
	sDelete:     "DELETE FROM resources WHERE arn = ?",
	sMetaInsert: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
}

// List filter flags: which optional ListQuery fields a prepared List statement tests.
const (
	lName = 1 << iota
	lParent
	lRef
	nLists = 1 << iota
)

func listSQL(flags int) string {
	var b strings.Builder
	b.WriteString("SELECT " + cols + " FROM resources WHERE account = ? AND region = ? AND type = ? AND seq > ?")
	if flags&lName != 0 {
		b.WriteString(" AND name = ?")
	}
	if flags&lParent != 0 {
		b.WriteString(" AND parent = ?")
	}
	if flags&lRef != 0 {
		// Planned as a lookup of the referrers in refs_by_ref, then of each in resources_by_type: cheap when
		// the referenced ARN is selective, which it is (a recording configuration, a policy...).
		b.WriteString(" AND seq IN (SELECT seq FROM refs WHERE ref = ?)")
	}
	// No LIMIT: a bound LIMIT makes SQLite re-prepare the statement whenever the value changes (it may plan
	// around a known limit), which costs more than the query. The rows come in index order, so the caller just
	// stops reading after Limit of them.
	b.WriteString(" ORDER BY seq")
	return b.String()
}

// conn is one dedicated database connection with its cached prepared statements. It is used by one goroutine at a
// time: whoever took it from its Store pool.
type conn struct {
	dsn    string
	dc     driverConn // nil when closed; reopened by Store.acquire
	write  bool
	broken bool // state unknown (a rollback failed): discard before reuse
	stmts  [nStmts]driverStmt
	lists  [nLists]driverStmt
	args   []driver.NamedValue // reused argument buffer (the driver binds during the call)
	dest   []driver.Value      // reused row buffer
}

func (c *conn) open() error {
	dc, err := drv.Open(c.dsn)
	if err != nil {
		return err
	}
	d, ok := dc.(driverConn)
	if !ok {
		dc.Close()
		return fmt.Errorf("unsupported driver connection %T", dc)
	}
	c.dc = d
	return nil
}

func (c *conn) prepare(slot *driverStmt, query string) (driverStmt, error) {
	if *slot != nil {
		return *slot, nil
	}
	st, err := c.dc.PrepareContext(context.Background(), query)
	if err != nil {
		return nil, err
	}
	s, ok := st.(driverStmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("unsupported driver statement %T", st)
	}
	*slot = s
	return s, nil
}

func (c *conn) stmt(id int) (driverStmt, error) { return c.prepare(&c.stmts[id], stmtSQL[id]) }

func (c *conn) list(flags int) (driverStmt, error) { return c.prepare(&c.lists[flags], listSQL(flags)) }

func (c *conn) named(args []driver.Value) []driver.NamedValue {
	nv := c.args[:0]
	for i, a := range args {
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	c.args = nv
	return nv
}

// query runs st. The caller must close the rows. With a ctx that can be canceled, the driver interrupts the
// statement when ctx ends (at the cost of a goroutine per statement); context.Background() avoids that for
// statements too short to be worth interrupting.
func (c *conn) query(ctx context.Context, st driverStmt, args ...driver.Value) (driver.Rows, error) {
	return st.QueryContext(ctx, c.named(args))
}

func (c *conn) exec(ctx context.Context, st driverStmt, args ...driver.Value) (driver.Result, error) {
	return st.ExecContext(ctx, c.named(args))
}

// control runs a transaction-control statement. It ignores any context: BEGIN, COMMIT and ROLLBACK must not be
// interrupted half-way, or the outcome of a commit would be unknown.
func (c *conn) control(id int) error {
	st, err := c.stmt(id)
	if err != nil {
		return err
	}
	_, err = c.exec(context.Background(), st)
	return err
}

// end rolls back the connection's transaction. SQLite may already have rolled it back by itself (after an
// interrupted write, an I/O error, or a failed COMMIT): that is fine. Any other failure leaves the connection in
// an unknown state, and it is discarded when released.
func (c *conn) end() {
	if err := c.control(sRollback); err != nil && !strings.Contains(err.Error(), "no transaction is active") {
		c.broken = true
	}
}

// row reads the single row of rows into dest (len(dest) columns) and closes rows; ok is false when there is none.
func row(rows driver.Rows, dest []driver.Value) (ok bool, err error) {
	err = rows.Next(dest)
	if err == io.EOF {
		return false, rows.Close()
	}
	return err == nil, errors.Join(err, rows.Close())
}

// execSQL runs a statement or a script outside the prepared-statement cache (schema, pragmas).
func (c *conn) execSQL(ctx context.Context, query string) error {
	_, err := c.dc.ExecContext(ctx, query, nil)
	return err
}

// queryValue returns the first column of the first row of query.
func (c *conn) queryValue(ctx context.Context, query string) (driver.Value, error) {
	rows, err := c.dc.QueryContext(ctx, query, nil)
	if err != nil {
		return nil, err
	}
	dest := make([]driver.Value, len(rows.Columns()))
	ok, err := row(rows, dest)
	if err != nil {
		return nil, err
	}
	if !ok || len(dest) == 0 {
		return nil, fmt.Errorf("%s: no result", query)
	}
	return dest[0], nil
}

func (c *conn) queryInt(ctx context.Context, query string) (int64, error) {
	v, err := c.queryValue(ctx, query)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s: got %T, want an integer", query, v)
	}
	return n, nil
}

func (c *conn) queryString(ctx context.Context, query string) (string, error) {
	v, err := c.queryValue(ctx, query)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: got %T, want text", query, v)
	}
	return s, nil
}

func (c *conn) closeStmts() error {
	var errs []error
	for i, st := range c.stmts {
		if st != nil {
			errs = append(errs, st.Close())
			c.stmts[i] = nil
		}
	}
	for i, st := range c.lists {
		if st != nil {
			errs = append(errs, st.Close())
			c.lists[i] = nil
		}
	}
	return errors.Join(errs...)
}

// close closes the statements and the connection; acquire opens a new one if the conn is used again.
func (c *conn) close() error {
	if c.dc == nil {
		return nil
	}
	err := errors.Join(c.closeStmts(), c.dc.Close())
	c.dc = nil
	c.broken = false
	return err
}
