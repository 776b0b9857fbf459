// Package bench holds what the Go benchmark programs share: arguments, the
// RESULT line, VmRSS and loud failure.
package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Arg returns the i-th command-line argument (1-based) as a positive
// integer, or def when it is absent.
func Arg(i int, def int) int {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		Fail("bad argument %q", os.Args[i])
	}
	return v
}

// Result prints the RESULT line of a figure.
func Result(figure string, value float64, unit string) {
	prec := 1
	if unit == "B" {
		prec = 0
	}
	fmt.Printf("RESULT go.%s %s %s\n", figure, strconv.FormatFloat(value, 'f', prec, 64), unit)
}

// Fail reports a wrong result and exits with status 1.
func Fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

// RSSBytes returns VmRSS from /proc/self/status in bytes.
func RSSBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		Fail("read /proc/self/status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := cutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(rest, "%d kB", &kb); err != nil {
				Fail("parse %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	Fail("no VmRSS in /proc/self/status")
	return 0
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return s, false
	}
	return s[len(prefix):], true
}
