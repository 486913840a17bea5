//go:build linux

package hls

import (
	"bytes"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// TestRingIsContiguousAcrossItsEnd: bytes written across the end of the file read back whole, the two mappings are
// the same memory, and punched pages are given back.
func TestRingIsContiguousAcrossItsEnd(t *testing.T) {
	r, err := newRing(16 * pageSize)
	if err != nil {
		t.Fatal(err) // Linux: memfd and mmap are expected to work here
	}
	st := &store{r: r}
	a := st.alloc(int(10 * pageSize))
	for i := range a {
		a[i] = byte(i)
	}
	if got, _ := r.allocated(); got < 10*pageSize {
		t.Fatalf("file holds %d bytes after writing %d", got, 10*pageSize)
	}
	st.release(10 * pageSize)
	if got, _ := r.allocated(); got != 0 {
		t.Fatalf("file holds %d bytes after releasing all", got)
	}
	b := st.alloc(int(9*pageSize) + 100) // from 10 pages to past the end: wraps
	if !inRing(r, b) {
		t.Fatal("a part that fits was put on the heap")
	}
	want := make([]byte, len(b))
	for i := range b {
		b[i] = byte(i * 7)
		want[i] = byte(i * 7)
	}
	if !bytes.Equal(b, want) {
		t.Fatal("bytes across the ring's end read back differently")
	}
	// the part's tail, past the end of the first mapping, is the file's start, seen through the first mapping
	tail := 3*pageSize + 100
	if !bytes.Equal(r.mem[:tail], want[len(want)-int(tail):]) {
		t.Fatal("the second mapping is not the same memory as the first")
	}
	// the ring is full up to the pages not given back: the next part goes to the heap
	c := st.alloc(int(7 * pageSize))
	if inRing(r, c) {
		t.Fatal("a part overwrote media not released")
	}
	st.release(st.head)
	if got, _ := r.allocated(); got > pageSize {
		t.Fatalf("file holds %d bytes after releasing all (a partial page at most)", got)
	}
	if c := st.alloc(int(pageSize)); !inRing(r, c) {
		t.Fatal("the ring is not used again after its media was released")
	}
}

func inRing(r *ring, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	p, lo, hi := &b[0], &r.mem[0], &r.mem[len(r.mem)-1]
	return uintptrOf(p) >= uintptrOf(lo) && uintptrOf(p) <= uintptrOf(hi)
}

func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// TestMuxerGivesBackMediaThatLeftTheWindow: the ring holds the window and the retired segments, not the stream;
// a held segment keeps its bytes until released, and a hold that comes after the release fails.
func TestMuxerGivesBackMediaThatLeftTheWindow(t *testing.T) {
	frames, v, a := fixture(t)
	for _, container := range []string{ContainerTS, ContainerFMP4} {
		t.Run(container, func(t *testing.T) {
			var held *Segment
			var heldCopy []byte
			var all []*Segment
			written := 0
			m, err := New(Config{LowLatency: true, Container: container, Video: v, Audio: a,
				OnSegment: func(s *Segment) {
					all = append(all, s)
					written += s.Size
					if s.MSN == 2 {
						if !s.Hold() {
							t.Fatal("a new segment cannot be held")
						}
						held = s
						for _, p := range s.Parts {
							heldCopy = append(heldCopy, p.Data...)
						}
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			if m.st.r == nil {
				t.Fatal("no ring: media on the heap")
			}
			feed(t, m, frames, 10, nil) // 42 s of 1 s segments
			m.mu.Lock()
			var kept int
			for _, s := range slices.Concat(m.segments, m.retired) {
				kept += s.Size
			}
			m.mu.Unlock()
			got, err := m.st.r.allocated()
			if err != nil {
				t.Fatal(err)
			}
			// held: segment 2 and everything after it stays
			var fromHeld int
			for _, s := range all[2:] {
				fromHeld += s.Size
			}
			if got < uint64(fromHeld) {
				t.Fatalf("the ring holds %d bytes, less than the %d from the held segment on", got, fromHeld)
			}
			var piece []byte
			for _, p := range held.Parts {
				piece = append(piece, p.Data...)
			}
			if !bytes.Equal(piece, heldCopy) {
				t.Fatal("a held segment's bytes changed")
			}
			if all[1].Hold() {
				t.Fatal("a segment released long ago could be held")
			}
			if _, ok := m.Segment(2); ok {
				t.Fatal("segment 2 still served after 42 s")
			}

			held.Release()
			feedFrom(t, m, frames, 10, 2) // 8 more segments: trims release what was held
			m.mu.Lock()
			kept = 0
			for _, s := range slices.Concat(m.segments, m.retired) {
				kept += s.Size
			}
			open := 0
			if m.open != nil {
				open = m.open.Size
			}
			m.mu.Unlock()
			if got, err = m.st.r.allocated(); err != nil {
				t.Fatal(err)
			}
			total := written
			// what the file holds: the served segments, the open one, at most a page more on each side
			if got < uint64(kept) || got > uint64(kept+open)+2*pageSize {
				t.Errorf("the ring holds %d bytes; the window and retired segments %d, the open segment %d (%d written)",
					got, kept, open, total)
			}
			if held.Hold() {
				t.Error("the segment released after its hold ended can be held again")
			}
			t.Logf("%s: %d bytes written, %d in the ring (window and retired %d, open %d)", container, total, got, kept, open)
		})
	}
}

// TestMuxerRingIsReused: a muxer no longer referenced gives its ring back, emptied, for the next rendition.
func TestMuxerRingIsReused(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 1, nil)
	m.Close()
	r := m.st.r
	if r == nil {
		t.Fatal("no ring")
	}
	if got, _ := r.allocated(); got == 0 {
		t.Fatal("the ring holds nothing after a stream")
	}
	m = nil
	deadline := time.Now().Add(10 * time.Second)
	for !ringFree(r) {
		if time.Now().After(deadline) {
			t.Fatal("the ring of an unreachable muxer was not given back")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got, _ := r.allocated(); got != 0 {
		t.Errorf("a ring given back still holds %d bytes", got)
	}
	rings.Lock()
	free := slices.Clone(rings.free)
	rings.Unlock()
	m2, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(free, m2.st.r) {
		t.Error("the next muxer made a new ring instead of reusing the free one")
	}
}

func ringFree(r *ring) bool {
	rings.Lock()
	defer rings.Unlock()
	return slices.Contains(rings.free, r)
}

// feedFrom writes the fixture loops times after the first from loops (feed's timeline, continued).
func feedFrom(t testing.TB, m *Muxer, frames []frame, from, loops int) {
	t.Helper()
	const loopDur = 4200 * time.Millisecond
	for l := from; l < from+loops; l++ {
		off := time.Duration(l) * loopDur
		for _, f := range frames {
			if f.video {
				if err := m.WriteVideo(f.pts+off, f.dts+off, f.au); err != nil {
					t.Fatal(err)
				}
			} else {
				m.WriteAAC(f.pts+off, f.au[0])
			}
		}
	}
}
