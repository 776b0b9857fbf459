// blocking_call: N blocking system calls (100,000 by default), the nearest
// Go has to a call on a helper pool: a goroutine reads one byte from a
// pipe with a raw read(2) (the runtime hands its P off while the call
// blocks), after writing it. ns per write+read pair.
package main

import (
	"syscall"
	"time"

	"oak/bench/internal/bench"
)

func main() {
	n := bench.Arg(1, 100000)
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		bench.Fail("blocking_call: pipe: %v", err)
	}
	buf := []byte{1}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		if _, err := syscall.Write(fds[1], buf); err != nil {
			bench.Fail("blocking_call: write: %v", err)
		}
		if _, err := syscall.Read(fds[0], buf); err != nil {
			bench.Fail("blocking_call: read: %v", err)
		}
	}
	elapsed := time.Since(t0)
	bench.Result("blocking_call", float64(elapsed.Nanoseconds())/float64(n), "ns")
}
