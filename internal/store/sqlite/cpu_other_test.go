//go:build !unix

package sqlite

import "time"

func cpuTime() time.Duration { return 0 }
