package sqlite

import (
	"context"
	"fmt"
	"log/slog"
)

// applicationID marks a database file as an openivs store ("OIVS"), so Open refuses an unrelated SQLite file
// instead of adding tables to it.
const applicationID = 0x4f495653

// migrations[i] takes the schema from version i to version i+1; the version is PRAGMA user_version. Append new
// migrations, never edit a released one. Each runs inside the same BEGIN IMMEDIATE transaction as the version bump.
var migrations = []string{
	// Version 1.
	//
	// resources.seq is the INTEGER PRIMARY KEY (the rowid) with AUTOINCREMENT, so SQLite assigns it and never hands
	// out a value again even after the row with the highest seq is deleted (sqlite_sequence keeps the high-water
	// mark). arn is the logical key: NOT NULL UNIQUE, i.e. a primary key in all but name; making seq the rowid keeps
	// the secondary indexes small and their entries ordered by seq for free.
	//
	// refs holds one row per (resource, referenced ARN) so Referrers and ListQuery.Ref are index lookups; the
	// resources.refs column keeps the caller's Refs slice verbatim (order and duplicates) as a JSON array so a read
	// needs no second query. Both are written together in the same transaction.
	//
	// created is Unix microseconds, UTC. tags is a JSON object, refs a JSON array; both are NULL when empty.
	`
CREATE TABLE resources (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	arn     TEXT    NOT NULL UNIQUE,
	account TEXT    NOT NULL,
	region  TEXT    NOT NULL,
	type    TEXT    NOT NULL,
	id      TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	parent  TEXT    NOT NULL,
	refs    TEXT,
	tags    TEXT,
	data    BLOB,
	created INTEGER NOT NULL
);
CREATE INDEX resources_by_type   ON resources (account, region, type, seq);
CREATE INDEX resources_by_name   ON resources (account, region, type, name, seq);
CREATE INDEX resources_by_parent ON resources (parent, seq);

CREATE TABLE refs (
	arn TEXT    NOT NULL,
	ref TEXT    NOT NULL,
	seq INTEGER NOT NULL,
	PRIMARY KEY (arn, ref)
) WITHOUT ROWID;
CREATE INDEX refs_by_ref ON refs (ref, seq);

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;
`,
	// Version 2.
	//
	// counts keeps the number of resources per (account, region, type), maintained by triggers, so Count (run by
	// every quota check) is one row lookup instead of a walk over the type's index.
	`
CREATE TABLE counts (
	account TEXT    NOT NULL,
	region  TEXT    NOT NULL,
	type    TEXT    NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (account, region, type)
) WITHOUT ROWID;
INSERT INTO counts (account, region, type, n) SELECT account, region, type, count(*) FROM resources GROUP BY 1, 2, 3;
CREATE TRIGGER counts_insert AFTER INSERT ON resources BEGIN
	INSERT INTO counts (account, region, type, n) VALUES (new.account, new.region, new.type, 1)
		ON CONFLICT (account, region, type) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER counts_delete AFTER DELETE ON resources BEGIN
	UPDATE counts SET n = n - 1 WHERE account = old.account AND region = old.region AND type = old.type;
END;
CREATE TRIGGER counts_update AFTER UPDATE OF account, region, type ON resources
	WHEN old.account IS NOT new.account OR old.region IS NOT new.region OR old.type IS NOT new.type BEGIN
	UPDATE counts SET n = n - 1 WHERE account = old.account AND region = old.region AND type = old.type;
	INSERT INTO counts (account, region, type, n) VALUES (new.account, new.region, new.type, 1)
		ON CONFLICT (account, region, type) DO UPDATE SET n = n + 1;
END;
`,
	// Version 3.
	//
	// outbox is the durable event log of internal/events (store.Outbox): seq is the rowid with AUTOINCREMENT so a
	// seq is never handed out twice, even after pruning deleted the newest entries. created is Unix microseconds.
	// outbox_cursors keeps, per sink, the highest seq the sink has acknowledged.
	`
CREATE TABLE outbox (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	payload BLOB    NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE outbox_cursors (
	sink TEXT    PRIMARY KEY,
	seq  INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// Version 4.
	//
	// Ingest finds a stream key from the id inside its value, in any account: Tx.FindByID.
	`
CREATE INDEX resources_by_id ON resources (type, id);
`,
}

// schemaVersion is the version a database has after Open.
var schemaVersion = int64(len(migrations))

// migrate brings the schema on the writer connection c up to schemaVersion.
func migrate(ctx context.Context, c *conn, log *slog.Logger) (err error) {
	if err := c.execSQL(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = c.execSQL(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	appID, err := c.queryInt(ctx, "PRAGMA application_id")
	if err != nil {
		return fmt.Errorf("read application_id: %w", err)
	}
	version, err := c.queryInt(ctx, "PRAGMA user_version")
	if err != nil {
		return fmt.Errorf("read user_version: %w", err)
	}
	switch {
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("not an openivs database (application_id %#x)", appID)
	case appID == 0 && version != 0:
		return fmt.Errorf("not an openivs database (user_version %d without application_id)", version)
	case version > schemaVersion:
		return fmt.Errorf("database schema version %d is newer than this binary supports (%d)", version, schemaVersion)
	case version == schemaVersion:
		return c.execSQL(ctx, "COMMIT")
	}
	if appID == 0 {
		n, err := c.queryInt(ctx, "SELECT count(*) FROM sqlite_schema")
		if err != nil {
			return fmt.Errorf("inspect schema: %w", err)
		}
		if n != 0 {
			return fmt.Errorf("not an openivs database (it already has %d schema objects)", n)
		}
		if err := c.execSQL(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
			return fmt.Errorf("set application_id: %w", err)
		}
	}
	for v := version; v < schemaVersion; v++ {
		if err := c.execSQL(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema from version %d to %d: %w", v, v+1, err)
		}
	}
	if err := c.execSQL(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("set user_version: %w", err)
	}
	if err := c.execSQL(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	log.Info("store: schema migrated", "from", version, "to", schemaVersion)
	return nil
}
