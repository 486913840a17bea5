package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
)

// keyCacheSize bounds the number of derived signing keys a Verifier keeps.
// A key is valid for one access key, day, region and service, so this is
// plenty for a server's working set.
const keyCacheSize = 1024

type keyCacheKey struct {
	accessKeyID, date, region, service string
}

type keyCacheEntry struct {
	secret string // the secret the key was derived from
	key    [32]byte
}

// keyCache is a small bounded cache of derived signing keys, safe for
// concurrent use. Its zero value is ready to use. When full, an arbitrary
// entry is evicted.
type keyCache struct {
	mu sync.RWMutex
	m  map[keyCacheKey]keyCacheEntry
}

// get returns the cached signing key for a's scope, if it was derived from
// secret (a rotated secret misses).
func (c *keyCache) get(secret string, a *authInfo) ([32]byte, bool) {
	k := keyCacheKey{a.accessKeyID, a.date, a.region, a.service}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || e.secret != secret {
		return [32]byte{}, false
	}
	return e.key, true
}

func (c *keyCache) put(secret string, a *authInfo, key *[32]byte) {
	// The scope strings may be substrings of a request header: copy them so
	// the cache does not pin request memory.
	k := keyCacheKey{
		strings.Clone(a.accessKeyID), strings.Clone(a.date),
		strings.Clone(a.region), strings.Clone(a.service),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[keyCacheKey]keyCacheEntry)
	}
	if _, exists := c.m[k]; !exists && len(c.m) >= keyCacheSize {
		for old := range c.m { // map iteration order is random
			delete(c.m, old)
			break
		}
	}
	c.m[k] = keyCacheEntry{secret: secret, key: *key}
}

// deriveSigningKey computes
// HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").
func deriveSigningKey(secret, date, region, service string) [32]byte {
	k := []byte("AWS4" + secret)
	for _, part := range [...]string{date, region, service, "aws4_request"} {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(part))
		k = h.Sum(nil)
	}
	var out [32]byte
	copy(out[:], k)
	return out
}

// scratch holds the buffers one verification needs; pooled so the hot path
// does not allocate.
type scratch struct {
	buf    []byte // canonical request
	q      []byte // encoded query parameters
	mac    []byte // HMAC inner input: key^ipad || string to sign
	params []qparam
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{
		buf:    make([]byte, 0, 1024),
		q:      make([]byte, 0, 256),
		mac:    make([]byte, 0, 256),
		params: make([]qparam, 0, 16),
	}
}}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// putScratch returns s to the pool unless a huge request grew it.
func putScratch(s *scratch) {
	const maxKeep = 64 << 10
	if cap(s.buf) > maxKeep || cap(s.q) > maxKeep || cap(s.mac) > maxKeep || cap(s.params) > 1024 {
		return
	}
	scratchPool.Put(s)
}
