//go:build linux

package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is a snapshot of CPU time, in seconds, used by the whole machine
// (busy, from /proc/stat), by the target process (/proc/PID/stat) and by
// this process (getrusage).
type cpuSample struct {
	at                 time.Time
	busy, target, self float64
	ok                 bool
}

const userHZ = 100 // USER_HZ, the unit of /proc/stat; 100 on every mainstream Linux

func sampleCPU(pid int) cpuSample {
	s := cpuSample{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	// cpu  user nice system idle iowait irq softirq steal ...
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			v, _ := strconv.ParseFloat(f[i], 64)
			s.busy += v / userHZ
		}
	}
	if pid > 0 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return s
		}
		// After "pid (comm) ": state is field 0, utime 11, stime 12.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			k, _ := strconv.ParseFloat(f[12], 64)
			s.target = (u + k) / userHZ
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
	}
	s.ok = true
	return s
}

func (s cpuSample) since(s0 cpuSample) cpuShare {
	wall := s.at.Sub(s0.at).Seconds() * float64(runtime.NumCPU())
	if !s.ok || !s0.ok || wall <= 0 {
		return cpuShare{}
	}
	pct := func(v float64) float64 { return max(0, 100*v/wall) }
	t, me := s.target-s0.target, s.self-s0.self
	return cpuShare{target: pct(t), self: pct(me), other: pct(s.busy - s0.busy - t - me), targetSec: t, selfSec: me, ok: true}
}
