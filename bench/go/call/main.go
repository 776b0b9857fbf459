// call: N synchronous calls (1,000,000 by default) from one client to a
// server goroutine that owns some state: the client sends a request that
// carries its reply channel and waits for the answer. The server counts the
// calls; every answer must be the count so far.
package main

import (
	"time"

	"oak/bench/internal/bench"
)

type request struct {
	add   int
	reply chan int
}

func server(requests <-chan request) {
	total := 0
	for req := range requests {
		total += req.add
		req.reply <- total
	}
}

func main() {
	n := bench.Arg(1, 1000000)
	requests := make(chan request)
	go server(requests)
	reply := make(chan int)
	t0 := time.Now()
	for i := 1; i <= n; i++ {
		requests <- request{add: 1, reply: reply}
		if v := <-reply; v != i {
			bench.Fail("call: got %d, expected %d", v, i)
		}
	}
	elapsed := time.Since(t0)
	close(requests)
	bench.Result("call", float64(elapsed.Nanoseconds())/float64(n), "ns")
}
