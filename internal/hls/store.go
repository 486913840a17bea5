package hls

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
)

// Where the media lives.
//
// A rendition keeps its window (8 to 12 s of media, plus the segments retired a moment ago and those a reader still
// holds) in memory, and that window is most of a live stream's memory. On the Go heap it costs twice its size: the
// collector lets the heap grow to twice what is live before it runs, so a part that left the window stays until the
// next cycle, and the heap's goal carries the whole window twice (measured, bench/README.md: 9.6 MB of RSS per
// 3 Mbit/s stream for a 4.5 MiB window). So on Linux each rendition's parts are written to a ring outside the heap: a
// memfd mapped twice, end to end (the second mapping makes every part contiguous, even across the end of the file),
// from which the pages of released media are given back at once (fallocate PUNCH_HOLE). A part's Data is a slice of
// that mapping: the HTTP path sends it with the same writev as before, without a copy, and its pages appear in the
// process's RSS (RssShmem), counted once.
//
// Readers never get freed memory by surprise: a segment's media is released only after it has left the playlist
// and the retired list, and no reader holds it (Segment.Hold; a hold that comes too late fails, and the reader
// answers as if the segment were gone). Mappings are never unmapped while the process runs: a ring whose rendition
// is unreachable is emptied and reused, so a slice that outlived every rule above reads zeros or newer media, never
// unmapped memory. When a ring cannot be made (another OS, a sandbox without memfd) or has no room (a rendition
// whose held media outgrows it), parts go to the Go heap, as before. No library does this: it is the storage of
// this package's own window.

// ringSize is a ring's capacity: the window, the retired segments and what readers hold, with room for a high
// bitrate (64 MiB is 60 s at 8.5 Mbit/s). It is address space: only the pages written count as memory.
const ringSize = 64 << 20

// store allocates one rendition's parts, oldest first, and releases them in the same order. Used by the muxer's
// writer (alloc) and under the muxer's mutex (release).
type store struct {
	r    *ring  // nil: the heap
	head uint64 // bytes allocated in the ring so far
	tail uint64 // bytes released (every byte before it is free)
}

var rings struct {
	sync.Mutex
	free   []*ring
	warned bool
}

func newStore() *store {
	st := &store{}
	rings.Lock()
	if n := len(rings.free); n > 0 {
		st.r, rings.free = rings.free[n-1], rings.free[:n-1]
	}
	rings.Unlock()
	if st.r == nil {
		r, err := newRing(ringSize)
		if err != nil {
			rings.Lock()
			warn := !rings.warned
			rings.warned = true
			rings.Unlock()
			if warn {
				slog.Warn("hls: media kept on the Go heap", "err", err)
			}
			return st
		}
		st.r = r
	}
	// Once no segment, part or muxer refers to the store, its ring is emptied and kept for the next rendition.
	runtime.AddCleanup(st, recycle, st.r)
	return st
}

func recycle(r *ring) {
	if err := r.reset(); err != nil {
		slog.Warn("hls: ring not reused", "err", err)
		return
	}
	rings.Lock()
	rings.free = append(rings.free, r)
	rings.Unlock()
}

// alloc returns n bytes for a part: in the ring when it has room, else on the heap.
func (st *store) alloc(n int) []byte {
	if st.r == nil || st.head+uint64(n) > st.r.punched+st.r.size {
		return make([]byte, n)
	}
	off := st.head % st.r.size
	st.head += uint64(n)
	return st.r.mem[off : off+uint64(n) : off+uint64(n)]
}

// release frees the ring's bytes before to.
func (st *store) release(to uint64) {
	if st.r == nil || to <= st.tail {
		return
	}
	st.tail = to
	if err := st.r.punch(to); err != nil {
		slog.Warn("hls: media not released", "err", err)
	}
}

// resident is the ring's memory in use (bytes allocated and not yet given back).
func (st *store) resident() uint64 {
	if st.r == nil {
		return 0
	}
	return st.head - st.r.punched
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
