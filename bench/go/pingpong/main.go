// pingpong: two goroutines exchange a small message (an int) N round trips
// (1,000,000 by default) over two unbuffered channels. Ping checks every
// reply.
package main

import (
	"time"

	"oak/bench/internal/bench"
)

func main() {
	n := bench.Arg(1, 1000000)
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		ping <- i
		if v := <-pong; v != i {
			bench.Fail("pingpong: got %d, expected %d", v, i)
		}
	}
	elapsed := time.Since(t0)
	close(ping)
	bench.Result("pingpong", float64(elapsed.Nanoseconds())/float64(n), "ns")
}
