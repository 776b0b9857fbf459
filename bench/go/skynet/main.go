// skynet: a 10-ary tree of goroutines with 1,000,000 leaves; leaf i sends i
// on its parent's channel, every inner goroutine sends the sum of its 10
// children up. The root's sum must be 499999500000.
package main

import (
	"time"

	"oak/bench/internal/bench"
)

const div = 10

func skynet(parent chan<- int64, num, size int64) {
	if size == 1 {
		parent <- num
		return
	}
	sub := size / div
	results := make(chan int64, div)
	for i := int64(0); i < div; i++ {
		go skynet(results, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < div; i++ {
		sum += <-results
	}
	parent <- sum
}

func main() {
	n := int64(bench.Arg(1, 1000000))
	for s := n; s > 1; s /= div {
		if s%div != 0 {
			bench.Fail("skynet: leaf count must be a power of %d", div)
		}
	}
	t0 := time.Now()
	root := make(chan int64)
	go skynet(root, 0, n)
	sum := <-root
	elapsed := time.Since(t0)
	if want := n * (n - 1) / 2; sum != want {
		bench.Fail("skynet: sum %d, expected %d", sum, want)
	}
	bench.Result("skynet", float64(elapsed.Nanoseconds())/1e6, "ms")
}
