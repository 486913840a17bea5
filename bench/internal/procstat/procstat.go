// Package procstat reads what the load tools under bench/ measure about processes and the machine from /proc
// (Linux): CPU time, resident memory, the machine's busy time and load average. Elsewhere every figure reads as
// zero and ok as false. The standard library has none of it, and the tools need nothing more.
package procstat

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

const userHZ = 100 // USER_HZ, the unit of /proc/stat and /proc/PID/stat; 100 on every mainstream Linux

// CPU returns the CPU time (user + system) a process has used.
func CPU(pid int) (time.Duration, bool) {
	self, _, ok := CPUTimes(pid)
	return self, ok
}

// CPUTimes returns the CPU time (user + system) a process has used, and that of its children it has waited for
// (cutime + cstime: helpers it runs, such as short-lived ffmpeg processes; a child still running is not in it).
func CPUTimes(pid int) (self, children time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	// After "pid (comm) ": state is field 0, utime 11, stime 12, cutime 13, cstime 14.
	f := strings.Fields(string(b[i+1:]))
	if len(f) <= 14 {
		return 0, 0, false
	}
	var v [4]int64
	for k := range v {
		v[k], _ = strconv.ParseInt(f[11+k], 10, 64)
	}
	return time.Duration(v[0]+v[1]) * time.Second / userHZ, time.Duration(v[2]+v[3]) * time.Second / userHZ, true
}

// RSS returns a process's resident set size in bytes (VmRSS).
func RSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				return 0, false
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

// MachineBusy returns the CPU time all cores spent busy (user, nice, system, irq, softirq, steal).
func MachineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var t int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			t += v
		}
	}
	return time.Duration(t) * time.Second / userHZ, len(f) > 8
}

// LoadAvg returns the first three fields of /proc/loadavg ("" off Linux).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
