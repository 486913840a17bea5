package procstat

import (
	"os"
	"runtime"
	"testing"
	"time"
)

func TestOwnProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("procstat reads /proc, on Linux only")
	}
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) { // spend some CPU
	}
	cpu, ok := CPU(os.Getpid())
	if !ok || cpu <= 0 {
		t.Errorf("CPU of this process: %v %v", cpu, ok)
	}
	if self, children, ok := CPUTimes(os.Getpid()); !ok || self < cpu || children < 0 {
		t.Errorf("CPUTimes of this process: %v %v %v, CPU %v", self, children, ok, cpu)
	}
	if rss, ok := RSS(os.Getpid()); !ok || rss < 1<<20 {
		t.Errorf("RSS of this process: %d %v", rss, ok)
	}
	if busy, ok := MachineBusy(); !ok || busy <= 0 {
		t.Errorf("machine busy time: %v %v", busy, ok)
	}
	if SelfCPU() <= 0 || LoadAvg() == "" {
		t.Errorf("SelfCPU %v, LoadAvg %q", SelfCPU(), LoadAvg())
	}
	if _, ok := CPU(-1); ok {
		t.Error("CPU of no process reported ok")
	}
}

// TestThreadCPU: a thread's CPU time grows while it spins, and is part of the process's.
func TestThreadCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("getrusage(RUSAGE_THREAD) is Linux's")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := ThreadCPU()
	for end := time.Now().Add(10 * time.Second); ThreadCPU()-before < 20*time.Millisecond; {
		if time.Now().After(end) {
			t.Fatalf("thread CPU grew by %v in 10 s of spinning", ThreadCPU()-before)
		}
	}
	if th, self := ThreadCPU(), SelfCPU(); th > self {
		t.Errorf("thread CPU %v above the process's %v", th, self)
	}
}
