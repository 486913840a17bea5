package sqlite

import (
	"maps"
	"slices"
	"sync"

	"github.com/openivs/openivs/internal/store"
)

// cache keeps recently read resources by ARN so that a View's Get of a hot resource (GetChannel at thousands of
// requests per second) costs a map lookup instead of a SQLite read transaction. It is correct only while this
// Store is the database's one writer, which is why it is opt-in (Options.CacheEntries): every committed Update
// invalidates the ARNs it wrote before Update returns, so a Get that starts after a write was acknowledged never
// sees the old version.
//
// The race to avoid: a View reads version 1 from SQLite, an Update commits version 2 and invalidates, then the
// View caches version 1. Each invalidation bumps gen; a View records gen before its first read and may add to
// the cache only if gen has not moved since, checked under the same lock that invalidation takes.
type cache struct {
	mu  sync.RWMutex
	m   map[string]*store.Resource
	gen uint64
	max int
}

func newCache(max int) *cache {
	if max <= 0 {
		return nil
	}
	return &cache{m: make(map[string]*store.Resource), max: max}
}

func (c *cache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// get returns a copy of the cached resource (callers may change what they get).
func (c *cache) get(arn string) (*store.Resource, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	r, ok := c.m[arn]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return clone(r), true
}

// add caches r, read by a View that started at generation gen, unless a write has been committed since.
func (c *cache) add(r *store.Resource, gen uint64) {
	if c == nil {
		return
	}
	r = clone(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary tenth: cheap, and good enough for a bound
			delete(c.m, k)
			if len(c.m) < c.max*9/10 {
				break
			}
		}
	}
	c.m[r.ARN] = r
}

// invalidate drops the ARNs a committed Update wrote.
func (c *cache) invalidate(arns []string) {
	if c == nil || len(arns) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, a := range arns {
		delete(c.m, a)
	}
}

func clone(r *store.Resource) *store.Resource {
	c := *r
	c.Tags = maps.Clone(r.Tags)
	if c.Tags == nil {
		c.Tags = map[string]string{}
	}
	c.Refs = slices.Clone(r.Refs)
	c.Data = slices.Clone(r.Data)
	return &c
}
