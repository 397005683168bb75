//go:build unix

package engine

import "syscall"

// processCPU returns the CPU time the process has used, in nanoseconds. The
// benchmarks report it per event beside wall time, because on a shared
// machine the wall time includes waiting for a core.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
