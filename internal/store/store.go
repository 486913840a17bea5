// Package store persists the API's resources behind two small interfaces, Store and Tx, so that the providers
// (internal/ivs, and later internal/realtime) never see SQL. A resource is a generic record: identity columns the
// store can index and query (account, region, type, name, parent, references, creation sequence) plus an opaque
// JSON document owned by the provider. The default implementation is SQLite (internal/store/sqlite); a PostgreSQL
// implementation only has to satisfy the same interfaces.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Tx.Get, Tx.Update and Tx.Delete when no resource has the ARN.
var ErrNotFound = errors.New("store: resource not found")

// ErrExists is returned by Tx.Insert when a resource with the same ARN exists.
var ErrExists = errors.New("store: resource already exists")

// Resource is one stored API resource.
type Resource struct {
	ARN     string // primary key, unique across accounts and regions
	Account string // 12-digit account id that owns the resource
	Region  string // region of the resource
	Type    string // ARN resource type: "channel", "stream-key", "playback-key", ...
	ID      string // the id part of the ARN
	Name    string // the user-visible name ("" when none); exact-match filterable
	Parent  string // ARN of the owning resource ("" when none), e.g. a stream key's channel
	// Refs are the ARNs this resource references (a channel's recording configuration, restriction policy, ad
	// configuration...). Tx.Referrers and ListQuery.Ref query them.
	Refs    []string
	Tags    map[string]string // resource tags; never nil after a read
	Data    []byte            // the provider's JSON document
	Created time.Time         // creation time, set by the caller
	Seq     int64             // creation sequence, assigned by Insert; strictly increasing across the store
}

// ListQuery selects resources of one type in one account and region, in creation order (ascending Seq).
type ListQuery struct {
	Account  string
	Region   string
	Type     string
	Name     string // when non-empty: Name must equal it
	Parent   string // when non-empty: Parent must equal it
	Ref      string // when non-empty: Refs must contain it
	AfterSeq int64  // only resources with Seq > AfterSeq (keyset pagination)
	Limit    int    // at most this many; <= 0 means no limit
}

// Tx is a transaction. All reads in a Tx see one consistent snapshot; writes in an Update Tx are atomic: all or
// none are durable when Update returns. A Tx must not be used after its function returns.
type Tx interface {
	// Get returns the resource with the ARN, or ErrNotFound.
	Get(ctx context.Context, arn string) (*Resource, error)
	// Insert stores a new resource, assigning r.Seq; ErrExists when the ARN is taken.
	Insert(ctx context.Context, r *Resource) error
	// Update replaces the stored resource with the same ARN (every field except Seq and Created); ErrNotFound if absent.
	Update(ctx context.Context, r *Resource) error
	// Delete removes the resource; ErrNotFound if absent.
	Delete(ctx context.Context, arn string) error
	// List returns the resources matching q, ordered by Seq ascending.
	List(ctx context.Context, q ListQuery) ([]*Resource, error)
	// Count returns how many resources of the type exist in the account and region.
	Count(ctx context.Context, account, region, typ string) (int, error)
	// Referrers returns the ARNs of resources whose Refs contain arn, ordered by Seq, at most limit (<= 0: all).
	Referrers(ctx context.Context, arn string, limit int) ([]string, error)
	// Children returns the resources whose Parent is arn, ordered by Seq.
	Children(ctx context.Context, arn string) ([]*Resource, error)
	// FindByID returns the resources of a type with the id, in any account and region, ordered by Seq (ids are
	// random, so normally one). Ingest uses it to find a stream key from the id inside its value.
	FindByID(ctx context.Context, typ, id string) ([]*Resource, error)
}

// Store opens transactions. View runs fn in a read-only transaction; Update runs fn in a read-write transaction
// and commits it when fn returns nil (rolls back otherwise, returning fn's error unchanged). Updates are
// serialised; Views run concurrently with each other and with an Update.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// Get returns the latest committed version of one resource (ErrNotFound when none): a View of a single Get,
	// which an implementation may serve from a cache. A Get that starts after an Update returned sees its writes.
	Get(ctx context.Context, arn string) (*Resource, error)
	// Meta reads a small server-wide value (e.g. a signing secret); ok is false when unset.
	Meta(ctx context.Context, key string) (value []byte, ok bool, err error)
	// SetMetaIfAbsent stores value under key unless one exists, and returns the value now stored.
	SetMetaIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error)
	Close() error
}
