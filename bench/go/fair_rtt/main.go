// fair_rtt: one busy looper per P (goroutines that never block, preempted
// asynchronously by the Go runtime), and beside them a ping-pong pair: N
// round trips (2,000 by default), the 99th percentile of their round-trip
// times in microseconds.
package main

import (
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"oak/bench/internal/bench"
)

func main() {
	n := bench.Arg(1, 2000)
	var stop atomic.Bool
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		go func() {
			x := 0
			for !stop.Load() {
				x++
			}
			_ = x
		}()
	}
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	time.Sleep(50 * time.Millisecond)
	rtt := make([]time.Duration, n)
	for i := 0; i < n; i++ {
		t0 := time.Now()
		ping <- i
		if v := <-pong; v != i {
			bench.Fail("fair_rtt: got %d, expected %d", v, i)
		}
		rtt[i] = time.Since(t0)
	}
	stop.Store(true)
	close(ping)
	sort.Slice(rtt, func(a, b int) bool { return rtt[a] < rtt[b] })
	bench.Result("fair_rtt", float64(rtt[int(float64(n)*0.99)].Nanoseconds())/1000, "us")
}
