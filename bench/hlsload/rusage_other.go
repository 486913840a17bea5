//go:build !linux

package main

import "time"

// selfCPU is not measured off Linux.
func selfCPU() time.Duration { return 0 }
