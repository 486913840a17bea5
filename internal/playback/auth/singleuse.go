package auth

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultSingleUseMax is how many used single-use UUIDs a SingleUse remembers at most when Max is zero. Each is kept
// until its token expires (at most 10.5 minutes), so this allows about 800 single-use playbacks a second sustained;
// full, it holds about 70 MB (measured with 36-character UUIDs).
const DefaultSingleUseMax = 1 << 19

// SingleUse remembers the aws:single-use-uuid of tokens already used, until the token expires: after that the
// token is refused as expired anyway. Memory is bounded by Max; expired entries are pruned as Use is called. Safe
// for concurrent use; the zero value is ready.
//
// It lives in memory: it is per process, and forgotten on restart.
type SingleUse struct {
	// Max bounds how many UUIDs are remembered (0: DefaultSingleUseMax). When it is reached, new single-use tokens
	// are refused (ReasonUnavailable, 503) until some expire, rather than forgetting one that could then be replayed.
	Max int

	mu    sync.Mutex
	seen  map[string]int64 // UUID → its token's exp (Unix seconds, rounded up)
	queue expiryHeap       // the same entries, soonest exp first
}

// Use records a single-use token's UUID, used at now, with its token's expiry exp. It returns a *Refusal with
// ReasonSingleUseReplayed when the UUID was already used (and has not expired), ReasonExpired when exp is not after
// now, ReasonUnavailable when Max UUIDs are remembered. An empty uuid (not a single-use token) is always allowed.
func (s *SingleUse) Use(uuid string, exp time.Time, now time.Time) error {
	if uuid == "" {
		return nil
	}
	if !exp.After(now) {
		return Refuse(ReasonExpired, "the token has expired (exp)")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
	if _, used := s.seen[uuid]; used {
		return Refuse(ReasonSingleUseReplayed, "this single-use token (aws:single-use-uuid) was already used")
	}
	limit := s.Max
	if limit <= 0 {
		limit = DefaultSingleUseMax
	}
	if len(s.seen) >= limit {
		return Refuse(ReasonUnavailable, "too many single-use tokens in use; try again in a few minutes")
	}
	if s.seen == nil {
		s.seen = make(map[string]int64)
	}
	e := expiry{uuid: uuid, exp: exp.Unix()}
	if exp.Nanosecond() > 0 {
		e.exp++
	}
	s.seen[uuid] = e.exp
	heap.Push(&s.queue, e)
	return nil
}

// Len is how many UUIDs are remembered (expired ones included until the next Use prunes them).
func (s *SingleUse) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// Prune forgets the UUIDs whose tokens have expired at now. Use prunes too; Prune is for an idle server.
func (s *SingleUse) Prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked(now)
}

func (s *SingleUse) pruneLocked(now time.Time) {
	t := now.Unix()
	for len(s.queue) > 0 && s.queue[0].exp <= t {
		e := heap.Pop(&s.queue).(expiry)
		delete(s.seen, e.uuid)
	}
	if len(s.queue) == 0 && cap(s.queue) > 1024 {
		s.queue = nil // give back a burst's backing array
		s.seen = nil
	}
}

type expiry struct {
	exp  int64
	uuid string
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiry{}
	*h = old[:len(old)-1]
	return e
}
