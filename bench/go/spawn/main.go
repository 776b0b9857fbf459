// spawn: N goroutines (1,000,000 by default) that exit at once, started and
// waited for with a sync.WaitGroup.
package main

import (
	"sync"
	"sync/atomic"
	"time"

	"oak/bench/internal/bench"
)

func main() {
	n := bench.Arg(1, 1000000)
	var wg sync.WaitGroup
	var ran int64
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&ran, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if ran != int64(n) {
		bench.Fail("spawn: %d of %d goroutines ran", ran, n)
	}
	bench.Result("spawn", float64(elapsed.Nanoseconds())/float64(n), "ns")
}
