//go:build linux

package procstat

import (
	"syscall"
	"time"
)

// SelfCPU returns the CPU time (user + system) this process has used.
func SelfCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// ThreadCPU returns the CPU time (user + system) the calling OS thread has used: lock the goroutine to its thread
// (runtime.LockOSThread) around what is measured.
func ThreadCPU() time.Duration { return rusage(syscall.RUSAGE_THREAD) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime))
}
