//go:build linux

// Package partcopy measures what sending a part costs the sender on loopback TCP: one writev of the response head
// and the part from memory (what openivs does: the kernel copies the part into the socket's buffers), against the
// head sent with MSG_MORE and the part by sendfile from a memfd (the socket references the pages instead of
// copying them; nginx serves its segments this way). The sender's thread CPU (user and system, which on loopback
// includes delivering the data to the receiving socket) is reported per response as cpu-ns/op; the receiver drops
// the bytes with recv(MSG_TRUNC) on a thread of its own.
//
//	go test -run - -bench . -count 3 ./bench/partcopy
//
// bench/README.md ("(b, seventh)") has the numbers and why openivs keeps the writev.
package partcopy

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/openivs/openivs/bench/internal/procstat"
)

const window = 4 << 20 // the parts cycle through 4 MiB of media, as a rendition's chunks do

func BenchmarkSendPart(b *testing.B) {
	for _, size := range []int{16 << 10, 75 << 10, 150 << 10} {
		for _, mode := range []string{"writev", "sendfile"} {
			b.Run(fmt.Sprintf("%s/%dKiB", mode, size>>10), func(b *testing.B) { benchSend(b, mode, size) })
		}
	}
}

func benchSend(b *testing.B, mode string, size int) {
	sfd, cfd := loopbackPair(b)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		buf := make([]byte, 1<<20)
		for {
			if n, _, err := unix.Recvfrom(cfd, buf, unix.MSG_TRUNC); err != nil || n == 0 {
				return
			}
		}
	}()
	defer func() { unix.Close(cfd); <-done }()
	defer unix.Close(sfd)

	mfd, err := unix.MemfdCreate("parts", unix.MFD_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(mfd)
	if err := unix.Ftruncate(mfd, window); err != nil {
		b.Fatal(err)
	}
	mem, err := unix.Mmap(mfd, 0, window, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Munmap(mem)
	for i := range mem {
		mem[i] = byte(i * 7)
	}
	head := make([]byte, 300)
	parts := window / size

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(len(head) + size))
	b.ResetTimer()
	cpu0 := procstat.ThreadCPU()
	for i := 0; i < b.N; i++ {
		off := (i % parts) * size
		switch mode {
		case "writev":
			writeAll(b, sfd, [][]byte{head, mem[off : off+size]})
		case "sendfile":
			if _, err := unix.SendmsgN(sfd, head, nil, nil, unix.MSG_MORE); err != nil {
				b.Fatal(err)
			}
			o := int64(off)
			for left := size; left > 0; {
				n, err := unix.Sendfile(sfd, mfd, &o, left)
				if err != nil {
					b.Fatal(err)
				}
				left -= n
			}
		}
	}
	b.ReportMetric(float64(procstat.ThreadCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

func writeAll(b *testing.B, fd int, iov [][]byte) {
	for len(iov) > 0 {
		n, err := unix.Writev(fd, iov)
		if err != nil {
			b.Fatal(err)
		}
		for n > 0 {
			if n < len(iov[0]) {
				iov[0] = iov[0][n:]
				break
			}
			n -= len(iov[0])
			iov = iov[1:]
		}
	}
}

// loopbackPair returns the two ends of a loopback TCP connection as blocking descriptors of their own.
func loopbackPair(b *testing.B) (server, client int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	return dupBlocking(b, s), dupBlocking(b, c)
}

func dupBlocking(b *testing.B, c net.Conn) int {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	fd := -1
	rc.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) })
	if err != nil {
		b.Fatal(err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		b.Fatal(err)
	}
	return fd
}
