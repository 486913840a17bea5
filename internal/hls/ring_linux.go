package hls

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ring is a memfd of size bytes mapped twice in a row (mem is 2 × size long), so that the bytes at offset o and
// o + size are the same memory and any run of up to size bytes starting below size is contiguous.
type ring struct {
	fd      int
	mem     []byte
	size    uint64
	punched uint64 // bytes given back so far (page-aligned; the ring's position, not the file's)
}

var pageSize = uint64(os.Getpagesize())

func newRing(size uint64) (*ring, error) {
	fd, err := unix.MemfdCreate("openivs-hls", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	fail := func(what string, err error) (*ring, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail("ftruncate", err)
	}
	// Reserve 2 × size of address space, then map the file over each half.
	base, err := unix.MmapPtr(-1, 0, nil, uintptr(2*size), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return fail("mmap", err)
	}
	for i := range uint64(2) {
		at := unsafe.Add(base, i*size)
		got, err := unix.MmapPtr(fd, 0, at, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED)
		if err == nil && got != at {
			err = fmt.Errorf("mapped at %p, not %p", got, at)
		}
		if err != nil {
			unix.MunmapPtr(base, uintptr(2*size))
			return fail("mmap memfd", err)
		}
	}
	return &ring{fd: fd, mem: unsafe.Slice((*byte)(base), 2*size), size: size}, nil
}

// punch gives back the whole pages before ring position to.
func (r *ring) punch(to uint64) error {
	end := to &^ (pageSize - 1)
	for r.punched < end {
		off := r.punched % r.size
		n := min(end-r.punched, r.size-off) // up to the end of the file, then from its start
		if err := unix.Fallocate(r.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(n)); err != nil {
			return fmt.Errorf("fallocate punch hole: %w", err)
		}
		r.punched += n
	}
	return nil
}

// reset gives back every page and starts the ring over.
func (r *ring) reset() error {
	if err := unix.Fallocate(r.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, int64(r.size)); err != nil {
		return fmt.Errorf("fallocate punch hole: %w", err)
	}
	r.punched = 0
	return nil
}

// allocated is the memory the ring's file holds (its allocated blocks), for tests.
func (r *ring) allocated() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(r.fd, &st); err != nil {
		return 0, err
	}
	return uint64(st.Blocks) * 512, nil
}
