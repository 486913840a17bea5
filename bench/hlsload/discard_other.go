//go:build !linux

package main

import "net"

// discardSocket is Linux's (recv with MSG_TRUNC); elsewhere the caller reads and discards.
func discardSocket(net.Conn, int64) (int, bool, error) { return 0, false, nil }
