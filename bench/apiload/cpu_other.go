//go:build !linux

package main

import "time"

type cpuSample struct{ at time.Time }

func sampleCPU(int) cpuSample { return cpuSample{at: time.Now()} }

func (cpuSample) since(cpuSample) cpuShare { return cpuShare{} }
