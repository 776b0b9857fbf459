// kvserver PORT: the Go side of kv_ops, the same RESP2 server as oak's
// examples/kv written the way Go servers are written: a goroutine per
// connection with a buffered reader and writer, the data in a map behind
// a mutex (sharded four ways, as oak's kv has four shards). PING, ECHO,
// SET, GET, DEL, EXISTS, INCR, COMMAND: what redis-benchmark sends.
// Replies are flushed when no pipelined request is left in the buffer.
package main

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

type shard struct {
	mu sync.Mutex
	m  map[string][]byte
}

var shards [4]shard

func shardOf(k []byte) *shard {
	h := fnv.New64a()
	h.Write(k)
	return &shards[h.Sum64()%4]
}

// readRequest returns the arguments of one request (multibulk or inline).
func readRequest(r *bufio.Reader) ([][]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	s := strings.TrimRight(string(line), "\r\n")
	if len(s) == 0 || s[0] != '*' {
		var args [][]byte
		for _, f := range strings.Fields(s) {
			args = append(args, []byte(f))
		}
		return args, nil
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 || n > 1024 {
		return nil, fmt.Errorf("invalid multibulk length")
	}
	args := make([][]byte, n)
	for i := range args {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimRight(string(line[1:]), "\r\n"))
		if line[0] != '$' || err != nil || l < 0 || l > 1<<20 {
			return nil, fmt.Errorf("invalid bulk length")
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = b[:l]
	}
	return args, nil
}


func bulk(w *bufio.Writer, b []byte) {
	w.WriteString("$")
	w.WriteString(strconv.Itoa(len(b)))
	w.WriteString("\r\n")
	w.Write(b)
	w.WriteString("\r\n")
}

func run(w *bufio.Writer, a [][]byte) {
	switch strings.ToUpper(string(a[0])) {
	case "PING":
		if len(a) > 1 {
			bulk(w, a[1])
		} else {
			w.WriteString("+PONG\r\n")
		}
	case "ECHO":
		if len(a) != 2 {
			w.WriteString("-ERR wrong number of arguments for 'echo' command\r\n")
			return
		}
		bulk(w, a[1])
	case "SET":
		if len(a) != 3 {
			w.WriteString("-ERR syntax error\r\n")
			return
		}
		s := shardOf(a[1])
		s.mu.Lock()
		s.m[string(a[1])] = a[2]
		s.mu.Unlock()
		w.WriteString("+OK\r\n")
	case "GET":
		if len(a) != 2 {
			w.WriteString("-ERR wrong number of arguments for 'get' command\r\n")
			return
		}
		s := shardOf(a[1])
		s.mu.Lock()
		v, ok := s.m[string(a[1])]
		s.mu.Unlock()
		if ok {
			bulk(w, v)
		} else {
			w.WriteString("$-1\r\n")
		}
	case "DEL", "EXISTS":
		n := 0
		for _, k := range a[1:] {
			s := shardOf(k)
			s.mu.Lock()
			if _, ok := s.m[string(k)]; ok {
				n++
				if a[0][0] == 'D' || a[0][0] == 'd' {
					delete(s.m, string(k))
				}
			}
			s.mu.Unlock()
		}
		w.WriteString(":" + strconv.Itoa(n) + "\r\n")
	case "INCR":
		if len(a) != 2 {
			w.WriteString("-ERR wrong number of arguments for 'incr' command\r\n")
			return
		}
		s := shardOf(a[1])
		s.mu.Lock()
		v, _ := strconv.ParseInt(string(s.m[string(a[1])]), 10, 64)
		v++
		s.m[string(a[1])] = []byte(strconv.FormatInt(v, 10))
		s.mu.Unlock()
		w.WriteString(":" + strconv.FormatInt(v, 10) + "\r\n")
	case "COMMAND", "CONFIG":
		w.WriteString("*0\r\n")
	default:
		w.WriteString("-ERR unknown command\r\n")
	}
}

func serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16384)
	w := bufio.NewWriterSize(c, 16384)
	for {
		a, err := readRequest(r)
		if err != nil {
			if err.Error() == "invalid multibulk length" || err.Error() == "invalid bulk length" {
				w.WriteString("-ERR Protocol error: " + err.Error() + "\r\n")
				w.Flush()
			}
			return
		}
		if len(a) > 0 {
			run(w, a)
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kvserver PORT")
		os.Exit(100)
	}
	for i := range shards {
		shards[i].m = make(map[string][]byte)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvserver: fatal: unable to listen:", err)
		os.Exit(111)
	}
	fmt.Println("listening", os.Args[1])
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go serve(c)
	}
}
