package ivs

import (
	"bytes"
	"sync"

	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/store"
)

// docCache keeps decoded channel documents by ARN with the bytes they were decoded from, so the read paths
// (GetChannel, BatchGetChannel, ListChannels: 100 documents a page) decode a document only when it changed.
// Entries are never modified: callers get a copy of the struct, and its pointer fields are only read.
type docCache struct {
	mu  sync.RWMutex
	m   map[string]cachedDoc
	max int
}

type cachedDoc struct {
	data []byte
	doc  channelDoc
}

const docCacheEntries = 50000

// channel returns r's channel document, decoded or from the cache.
func (c *docCache) channel(r *store.Resource) (channelDoc, error) {
	c.mu.RLock()
	e, ok := c.m[r.ARN]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.data, r.Data) {
		return e.doc, nil
	}
	var d channelDoc
	if err := resource.Decode(r, &d); err != nil {
		return d, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedDoc)
	}
	if len(c.m) >= docCacheEntries {
		for k := range c.m { // evict an arbitrary tenth
			delete(c.m, k)
			if len(c.m) < docCacheEntries*9/10 {
				break
			}
		}
	}
	c.m[r.ARN] = cachedDoc{data: append([]byte(nil), r.Data...), doc: d}
	return d, nil
}
