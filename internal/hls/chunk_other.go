//go:build !linux

package hls

import "errors"

// Chunks are mapped on Linux only; elsewhere parts stay on the Go heap.
func mapChunk(int) ([]byte, error) { return nil, errors.New("no media chunks on this system") }

func dropPages([]byte) error { return nil }
