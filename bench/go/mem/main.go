// mem: N idle goroutines (1,000,000 by default) blocked in a receive on
// their own channel (their mailbox); resident bytes per goroutine. VmRSS is
// read before the first one starts and again once every goroutine has
// reached its receive (each marks a WaitGroup just before it blocks) and a
// further 100 ms have passed. main keeps every channel.
// Arguments: N [label]; label defaults to mem.
package main

import (
	"os"
	"runtime"
	"sync"
	"time"

	"oak/bench/internal/bench"
)

func main() {
	n := bench.Arg(1, 1000000)
	label := "mem"
	if len(os.Args) > 2 {
		label = os.Args[2]
	}
	before := bench.RSSBytes()
	mailboxes := make([]chan struct{}, n)
	var ready sync.WaitGroup
	ready.Add(n)
	for i := range mailboxes {
		mb := make(chan struct{})
		mailboxes[i] = mb
		go func() {
			ready.Done()
			<-mb
		}()
	}
	ready.Wait()
	time.Sleep(100 * time.Millisecond)
	after := bench.RSSBytes()
	if g := runtime.NumGoroutine(); g < n+1 {
		bench.Fail("mem: %d goroutines alive, expected %d", g, n+1)
	}
	for _, mb := range mailboxes {
		close(mb)
	}
	bench.Result(label, float64(after-before)/float64(n), "B")
}
