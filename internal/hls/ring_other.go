//go:build !linux

package hls

import "errors"

// ring exists on Linux only (memfd, fallocate); elsewhere parts stay on the Go heap.
type ring struct {
	mem     []byte
	size    uint64
	punched uint64
}

func newRing(uint64) (*ring, error) { return nil, errors.New("no media ring on this system") }

func (r *ring) punch(uint64) error         { return nil }
func (r *ring) reset() error               { return nil }
func (r *ring) allocated() (uint64, error) { return 0, nil }
