//go:build linux

package main

import (
	"net"
	"syscall"
)

// truncBuf is the buffer handed to recv(MSG_TRUNC): the kernel does not write to it.
var truncBuf = make([]byte, 1<<20)

// discardSocket drops up to size bytes from the connection's receive queue without copying them (recv with
// MSG_TRUNC, which TCP sockets support since Linux 2.4): a viewer's media is counted, never looked at. It returns
// the bytes dropped; ok is false when the connection cannot do it (then the caller reads and discards).
func discardSocket(c net.Conn, size int64) (n int, ok bool, err error) {
	tc, isTCP := c.(*net.TCPConn)
	if !isTCP {
		return 0, false, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), truncBuf[:min(size, int64(len(truncBuf)))], syscall.MSG_TRUNC|syscall.MSG_DONTWAIT)
		return rerr != syscall.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	return n, true, err
}
