//go:build linux

package hls

import (
	"bytes"
	"crypto/sha256"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestStoreFillsChunksInOrderAndReusesThem: parts are cut from mapped chunks (not the heap), a chunk too short for
// the next part is followed by a new one, released chunks go to the pool and the next rendition reuses them.
func TestStoreFillsChunksInOrderAndReusesThem(t *testing.T) {
	st := newStore()
	const part = 20 << 10 // 4 parts: 80 KiB → 128 KiB chunks
	var parts [][]byte
	for i := range 13 {
		b := st.alloc(part)
		for j := range b {
			b[j] = byte(i)
		}
		parts = append(parts, b)
	}
	l := st.chunks.list
	if len(l) != 3 || len(l[0].c.mem) != 128<<10 {
		t.Fatalf("13 parts of 20 KiB in %d chunks of %d bytes, want 3 of 128 KiB", len(l), len(l[0].c.mem))
	}
	for i, b := range parts {
		if !inChunk(l[i/6].c, b) {
			t.Fatalf("part %d is not in chunk %d", i, i/6)
		}
		if b[0] != byte(i) || b[len(b)-1] != byte(i) {
			t.Fatalf("part %d was overwritten", i)
		}
	}
	first := l[0].c
	st.release(6 * part) // the first chunk's six parts
	if len(st.chunks.list) != 2 || st.chunks.list[0].c == first {
		t.Fatal("a released chunk was kept")
	}
	second := st.chunks.list[0].c
	st.release(st.head) // everything: the chunk being filled stays
	if len(st.chunks.list) != 1 {
		t.Fatalf("%d chunks kept after releasing all, want the one being filled", len(st.chunks.list))
	}
	if !slices.Contains(pool.free[17-minChunkShift], first) {
		t.Fatal("the released chunk is not in the pool")
	}
	other := newStore()
	if b := other.alloc(part); !inChunk(second, b) { // the pool hands out the chunk returned last
		t.Error("the next rendition did not reuse the chunk given back")
	}
	// a part larger than the largest chunk goes to the heap
	if big := st.alloc(5 << 20); slices.ContainsFunc(st.chunks.list, func(u usedChunk) bool { return inChunk(u.c, big) }) {
		t.Error("a 5 MiB part was put in a chunk")
	}
}

func inChunk(c *chunk, b []byte) bool {
	return len(b) > 0 && addr(&b[0]) >= addr(&c.mem[0]) && addr(&b[0]) <= addr(&c.mem[len(c.mem)-1])
}

func addr(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }

// TestPoolGivesBackItsSurplus: past the reserve, free chunks lose their pages (not resident) and are handed out
// after the warm ones.
func TestPoolGivesBackItsSurplus(t *testing.T) {
	const shift = maxChunkShift // 4 MiB
	var cs []*chunk
	for range poolReserve>>shift + 4 {
		c := getChunk(shift)
		if c == nil {
			t.Fatal("no chunk")
		}
		for i := 0; i < len(c.mem); i += 4096 {
			c.mem[i] = 1
		}
		cs = append(cs, c)
	}
	putChunks(cs)
	var cold, warm int
	for _, c := range cs {
		r := residentPages(t, c.mem)
		switch {
		case c.cold && r == 0:
			cold++
		case !c.cold && r == len(c.mem)/4096:
			warm++
		default:
			t.Errorf("chunk cold=%v with %d of %d pages resident", c.cold, r, len(c.mem)/4096)
		}
	}
	if cold < 4 || warm == 0 {
		t.Errorf("%d cold and %d warm chunks of %d, want the surplus over the %d MiB reserve cold", cold, warm, len(cs), poolReserve>>20)
	}
	if c := getChunk(shift); c.cold || residentPages(t, c.mem) == 0 {
		t.Error("the pool handed out a cold chunk while it had warm ones")
	} else {
		putChunks([]*chunk{c})
	}
}

func residentPages(t *testing.T, mem []byte) int {
	vec := make([]byte, (len(mem)+4095)/4096)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&mem[0])), uintptr(len(mem)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// TestMuxerGivesBackMediaThatLeftTheWindow: the rendition's chunks hold the window and the retired segments, not
// the stream; a held segment keeps its bytes until released, and a hold that comes after the release fails.
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
			feed(t, m, frames, 10, nil) // 42 s of 1 s segments
			if len(m.st.chunks.list) == 0 {
				t.Fatal("no chunks: media on the heap")
			}
			var fromHeld int
			for _, s := range all[2:] {
				fromHeld += s.Size
			}
			if got := m.st.resident(); got < fromHeld {
				t.Fatalf("the rendition's chunks hold %d bytes, less than the %d from the held segment on", got, fromHeld)
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
			feedFrom(t, m, frames, 10, 2, nil) // 8 more segments: trims release what was held
			m.mu.Lock()
			kept := 0
			for _, s := range slices.Concat(m.segments, m.retired) {
				kept += s.Size
			}
			m.mu.Unlock()
			chunk := len(m.st.chunks.list[0].c.mem)
			// what the chunks hold: the served segments, and at most the unused ends of a chunk before and after
			if got := m.st.resident(); got < kept || got > kept+2*chunk {
				t.Errorf("the rendition's chunks hold %d bytes; the window and retired segments %d (chunks of %d; %d written)",
					got, kept, chunk, written)
			}
			if held.Hold() {
				t.Error("the segment released after its hold ended can be held again")
			}
			t.Logf("%s: %d bytes written, %d in %d chunks of %d (window and retired %d)", container, written,
				m.st.resident(), len(m.st.chunks.list), chunk, kept)
		})
	}
}

// TestMuxerChunksAreReused: the chunks of a muxer no longer referenced go back to the pool.
func TestMuxerChunksAreReused(t *testing.T) {
	frames, v, a := fixture(t)
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, m, frames, 1, nil)
	m.Close()
	var mine []*chunk
	for _, u := range m.st.chunks.list {
		mine = append(mine, u.c)
	}
	if len(mine) == 0 {
		t.Fatal("no chunks")
	}
	m = nil
	deadline := time.Now().Add(10 * time.Second)
	for !pooled(mine) {
		if time.Now().After(deadline) {
			t.Fatal("the chunks of an unreachable muxer were not given back")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func pooled(cs []*chunk) bool {
	pool.Lock()
	defer pool.Unlock()
	for _, c := range cs {
		found := false
		for _, list := range pool.free {
			found = found || slices.Contains(list, c)
		}
		if !found {
			return false
		}
	}
	return true
}

// TestMuxerHoldsUnderConcurrentReaders: readers that hold a segment read exactly the bytes it was published with,
// while the writer runs far ahead (the window moves and chunks are reused many times over); a hold either comes in
// time or fails.
func TestMuxerHoldsUnderConcurrentReaders(t *testing.T) {
	frames, v, a := fixture(t)
	var mu sync.Mutex
	published := map[uint64][32]byte{}
	m, err := New(Config{LowLatency: true, Container: ContainerTS, Video: v, Audio: a,
		OnSegment: func(s *Segment) {
			h := sha256.New()
			for _, p := range s.Parts {
				h.Write(p.Data)
			}
			mu.Lock()
			published[s.MSN] = [32]byte(h.Sum(nil))
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var held, refused atomic.Int64
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				mu.Lock()
				newest := uint64(len(published))
				mu.Unlock()
				if newest == 0 {
					runtime.Gosched()
					continue
				}
				msn := newest - 1 - uint64((i*7+r)%12) // around the window's tail and beyond it
				if msn >= newest {
					continue
				}
				seg, ok := m.Segment(msn)
				if !ok {
					continue
				}
				if !seg.Hold() {
					refused.Add(1)
					continue
				}
				h := sha256.New()
				for _, p := range seg.Parts {
					h.Write(p.Data)
					runtime.Gosched() // let the writer move on while this reader holds the segment
				}
				seg.Release()
				held.Add(1)
				mu.Lock()
				want := published[msn]
				mu.Unlock()
				if [32]byte(h.Sum(nil)) != want {
					t.Errorf("segment %d read while held differs from what was published", msn)
					return
				}
			}
		})
	}
	feed(t, m, frames, 60, nil) // 252 s of media, as fast as the muxer goes
	close(done)
	wg.Wait()
	t.Logf("%d segments read while held, %d holds refused; %d bytes in the rendition's chunks at the end",
		held.Load(), refused.Load(), m.st.resident())
	if held.Load() == 0 {
		t.Fatal("no reader held a segment")
	}
}

// resident is the memory of the chunks the rendition holds.
func (st *store) resident() int {
	t := 0
	for _, u := range st.chunks.list {
		t += len(u.c.mem)
	}
	return t
}
