package hls

import (
	"log/slog"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// Where the media lives.
//
// A rendition keeps its window (8 to 12 s of media, plus the segments retired a moment ago and those a reader still
// holds) in memory, and that window is most of a live stream's memory. On the Go heap it cost twice its size: the
// collector lets the heap grow to twice what is live before it runs, so the heap's goal carried every window twice
// (bench/README.md: 9.6 MB of RSS per 3 Mbit/s stream for a 4.5 MiB window). So parts are written to chunks of
// memory mapped outside the heap (64 KiB to 4 MiB, sized to the rendition's parts), each rendition filling its
// chunks in order and handing a chunk back to a process-wide pool once every segment in it is released. The pool
// keeps the chunks' pages: a chunk is reused by the next rendition that needs one without touching new pages (on
// this machine a page fault costs 20–40 µs: punching the pages of released media and faulting fresh ones cost 18 %
// more CPU at 150 streams than the heap did). Past a reserve (max(32 MiB, an eighth of the chunks in use)) the pool
// gives the pages of its surplus back to the system (madvise DONTNEED). A part's Data is a slice of its chunk: the
// HTTP path sends it with the same writev as before, and its pages are counted once in the process's RSS.
//
// Readers never get reused memory by surprise: a segment's media is released only after it has left the playlist
// and the retired list, and no reader holds it (Segment.Hold; a hold that comes too late fails, and the reader
// answers as if the segment were gone). Chunks are never unmapped while the process runs, so a slice that outlived
// every rule above reads zeros or newer media, never unmapped memory. Where chunks cannot be mapped (another OS, a
// sandbox), or for a part larger than the largest chunk, parts go to the Go heap, as before. No library does this:
// it is the storage of this package's own window.

// Chunk sizes: powers of two from minChunk to maxChunk. A rendition's chunks hold at least chunkParts of its
// largest part, so that the end of a chunk too short for the next part wastes little.
const (
	minChunkShift = 16 // 64 KiB
	maxChunkShift = 22 // 4 MiB
	chunkParts    = 4
	poolReserve   = 32 << 20
)

// chunk is a run of mapped memory outside the Go heap.
type chunk struct {
	mem  []byte
	cold bool // its pages were given back: the next use faults them in again
}

// pool keeps the chunks no rendition uses, by size.
var pool struct {
	sync.Mutex
	free     [maxChunkShift - minChunkShift + 1][]*chunk // per size: warm chunks at the end, cold ones first
	warm     uint64                                      // bytes of warm free chunks
	inUse    uint64                                      // bytes of chunks renditions hold
	disabled bool                                        // mapping failed once: the heap from now on
}

// getChunk returns a chunk of 1<<shift bytes (warm if the pool has one), or nil when chunks cannot be mapped.
func getChunk(shift int) *chunk {
	pool.Lock()
	defer pool.Unlock()
	if pool.disabled {
		return nil
	}
	size := uint64(1) << shift
	list := &pool.free[shift-minChunkShift]
	var c *chunk
	if n := len(*list); n > 0 {
		c, *list = (*list)[n-1], (*list)[:n-1]
		if !c.cold {
			pool.warm -= size
		}
		c.cold = false
	} else {
		mem, err := mapChunk(int(size))
		if err != nil {
			pool.disabled = true
			slog.Warn("hls: media kept on the Go heap", "err", err)
			return nil
		}
		c = &chunk{mem: mem}
	}
	pool.inUse += size
	return c
}

// putChunks hands chunks back to the pool; past the reserve, the pages of the surplus are given back.
func putChunks(cs []*chunk) {
	pool.Lock()
	defer pool.Unlock()
	for _, c := range cs {
		size := uint64(len(c.mem))
		pool.inUse -= size
		pool.warm += size
		list := &pool.free[bits.TrailingZeros64(size)-minChunkShift]
		*list = append(*list, c)
	}
	keep := max(poolReserve, pool.inUse/8)
	for i := len(pool.free) - 1; i >= 0 && pool.warm > keep; i-- {
		list := pool.free[i]
		// the warm chunks are at the end of each list: cool the first warm ones (the longest unused), keep the last
		for j := range list {
			if pool.warm <= keep {
				break
			}
			if c := list[j]; !c.cold {
				if err := dropPages(c.mem); err != nil {
					slog.Warn("hls: chunk pages not given back", "err", err)
					return
				}
				c.cold = true
				pool.warm -= uint64(len(c.mem))
			}
		}
		// cold chunks first, so that getChunk takes warm ones
		cold, warm := list[:0:0], list[:0:0]
		for _, c := range list {
			if c.cold {
				cold = append(cold, c)
			} else {
				warm = append(warm, c)
			}
		}
		pool.free[i] = append(cold, warm...)
	}
}

// store allocates one rendition's parts in its chunks, in order, and releases them in the same order. alloc and
// release are called from the muxer's writer goroutine.
type store struct {
	chunks *chunkList // kept apart so that the cleanup can reach them without the store
	head   uint64     // bytes allocated so far (a position: the next part starts here)
	tail   uint64     // bytes released
	peak   int        // the largest part so far
}

type chunkList struct {
	list []usedChunk // oldest first; the last is the one being filled
}

type usedChunk struct {
	c    *chunk
	used int    // bytes filled
	end  uint64 // the store's position after its last part
}

func newStore() *store {
	st := &store{chunks: &chunkList{}}
	// Once no muxer, segment or part refers to the store, its chunks go back to the pool.
	runtime.AddCleanup(st, func(l *chunkList) { l.free(len(l.list)) }, st.chunks)
	return st
}

func (l *chunkList) free(n int) {
	cs := make([]*chunk, n)
	for i := range n {
		cs[i] = l.list[i].c
	}
	putChunks(cs)
	l.list = append(l.list[:0:0], l.list[n:]...)
}

// alloc returns n bytes for a part: in the rendition's current chunk, or a new one, or on the heap.
func (st *store) alloc(n int) []byte {
	if n == 0 {
		return nil
	}
	st.peak = max(st.peak, n)
	l := st.chunks
	if k := len(l.list); k == 0 || l.list[k-1].used+n > len(l.list[k-1].c.mem) {
		shift := max(minChunkShift, bits.Len(uint(chunkParts*st.peak-1)))
		if shift > maxChunkShift {
			shift = maxChunkShift
			if n > 1<<maxChunkShift {
				return make([]byte, n)
			}
		}
		c := getChunk(shift)
		if c == nil {
			return make([]byte, n)
		}
		l.list = append(l.list, usedChunk{c: c})
	}
	u := &l.list[len(l.list)-1]
	b := u.c.mem[u.used : u.used+n : u.used+n]
	u.used += n
	st.head += uint64(n)
	u.end = st.head
	return b
}

// release frees the media before position to: the chunks holding nothing after it go back to the pool (the one
// being filled stays).
func (st *store) release(to uint64) {
	if to <= st.tail {
		return
	}
	st.tail = to
	l := st.chunks
	n := 0
	for n < len(l.list)-1 && l.list[n].end <= to {
		n++
	}
	if n > 0 {
		l.free(n)
	}
}

// Holds. A segment's hold state is the number of readers holding it, or released (−1) once its media is given back.
const released = -1

type holds struct{ n atomic.Int64 }

// Hold keeps the segment's media in memory until Release. It is false when the media has been released (the segment
// left the window some time ago): the reader must not use it, and answers as if the segment were gone.
func (s *Segment) Hold() bool {
	for {
		n := s.holds.n.Load()
		if n == released {
			return false
		}
		if s.holds.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release ends a Hold.
func (s *Segment) Release() { s.holds.n.Add(-1) }

// free marks the segment released if no reader holds it.
func (s *Segment) free() bool { return s.holds.n.CompareAndSwap(0, released) }

// Hold holds the part's segment (Segment.Hold); a part made outside a muxer needs none.
func (p *Part) Hold() bool { return p.seg == nil || p.seg.Hold() }

// Release ends a Hold.
func (p *Part) Release() {
	if p.seg != nil {
		p.seg.Release()
	}
}
