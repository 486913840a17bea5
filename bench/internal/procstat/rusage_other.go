//go:build !linux

package procstat

import "time"

// SelfCPU is not measured off Linux.
func SelfCPU() time.Duration { return 0 }

// ThreadCPU is not measured off Linux.
func ThreadCPU() time.Duration { return 0 }
