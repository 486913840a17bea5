//go:build !linux

// Command hlsload simulates N viewers of one live HLS stream (see main.go); it runs on Linux only (epoll).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "hlsload: Linux only (its viewers run on epoll)")
	os.Exit(2)
}
