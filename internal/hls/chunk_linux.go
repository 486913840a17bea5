package hls

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// mapChunk maps size bytes of anonymous memory outside the Go heap.
func mapChunk(size int) ([]byte, error) {
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	return mem, nil
}

// dropPages gives a chunk's pages back to the system; they read as zeros until written again.
func dropPages(mem []byte) error {
	if err := unix.Madvise(mem, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("madvise DONTNEED: %w", err)
	}
	return nil
}
