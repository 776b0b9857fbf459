// ring: R goroutines (10,000 by default) in a ring, each reading from its
// own unbuffered channel and writing to the next one's; a token is passed H
// hops (1,000,000 by default). The token carries the hops still to go; the
// goroutine that gets it at 0 reports its position, which must be H mod R.
package main

import (
	"time"

	"oak/bench/internal/bench"
)

func member(pos int, in <-chan int, next chan<- int, done chan<- int) {
	for left := range in {
		if left == 0 {
			done <- pos
			return
		}
		next <- left - 1
	}
}

func main() {
	r := bench.Arg(1, 10000)
	h := bench.Arg(2, 1000000)
	chans := make([]chan int, r)
	for i := range chans {
		chans[i] = make(chan int)
	}
	done := make(chan int)
	for i := 0; i < r; i++ {
		go member(i, chans[i], chans[(i+1)%r], done)
	}
	t0 := time.Now()
	chans[0] <- h
	pos := <-done
	elapsed := time.Since(t0)
	if pos != h%r {
		bench.Fail("ring: token ended at %d, expected %d", pos, h%r)
	}
	bench.Result("ring", float64(elapsed.Nanoseconds())/float64(h), "ns")
}
