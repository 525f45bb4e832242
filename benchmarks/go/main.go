// gobench: Go's net/rpc as a benchmark peer for minirpc.
//
//	gobench server -codec gob|json [-addr 127.0.0.1:0]   prints "ADDR host:port", serves until stdin closes
//	gobench client -codec gob|json -addr host:port -n N -inflight K
//	    prints one JSON line: sequential p50/p99 (µs), calls/s, and calls/s with K calls in flight
//
// The service is Arith.Add(Args{A, B}) -> int, the same one bench.py serves from Python.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"sort"
	"time"
)

type Args struct{ A, B int }

type Arith int

func (t *Arith) Add(args Args, reply *int) error { *reply = args.A + args.B; return nil }

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: gobench server|client [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	codec := fs.String("codec", "gob", "gob or json")
	addr := fs.String("addr", "127.0.0.1:0", "address")
	n := fs.Int("n", 2000, "sequential calls")
	inflight := fs.Int("inflight", 64, "calls in flight for the throughput test")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "server":
		serve(*codec, *addr)
	case "client":
		bench(*codec, *addr, *n, *inflight)
	default:
		log.Fatal("unknown mode ", os.Args[1])
	}
}

func serve(codec, addr string) {
	server := rpc.NewServer()
	server.Register(new(Arith))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ADDR", l.Addr().String())
	go func() { io.Copy(io.Discard, bufio.NewReader(os.Stdin)); os.Exit(0) }() // parent gone: stop
	for {
		conn, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		if codec == "json" {
			go server.ServeCodec(jsonrpc.NewServerCodec(conn))
		} else {
			go server.ServeConn(conn)
		}
	}
}

func bench(codec, addr string, n, inflight int) {
	var client *rpc.Client
	var err error
	if codec == "json" {
		client, err = jsonrpc.Dial("tcp", addr)
	} else {
		client, err = rpc.Dial("tcp", addr)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	var reply int
	for i := 0; i < n/10+10; i++ { // warm up
		client.Call("Arith.Add", Args{i, 1}, &reply)
	}
	lat := make([]float64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := client.Call("Arith.Add", Args{i, 1}, &reply); err != nil || reply != i+1 {
			log.Fatal("bad reply ", err)
		}
		lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
	}
	seqRate := float64(n) / time.Since(start).Seconds()
	sort.Float64s(lat)

	// Throughput: keep `inflight` calls outstanding on the one connection.
	total := n * 2
	done := make(chan *rpc.Call, inflight)
	replies := make([]int, inflight)
	start = time.Now()
	sent := 0
	for ; sent < inflight && sent < total; sent++ {
		client.Go("Arith.Add", Args{sent, 1}, &replies[sent], done)
	}
	for got := 0; got < total; got++ {
		call := <-done
		if call.Error != nil {
			log.Fatal(call.Error)
		}
		if sent < total {
			client.Go("Arith.Add", Args{sent, 1}, call.Reply, done)
			sent++
		}
	}
	asyncRate := float64(total) / time.Since(start).Seconds()
	out, _ := json.Marshal(map[string]float64{
		"p50_us": lat[n/2], "p99_us": lat[n*99/100], "seq_calls_per_s": seqRate,
		"inflight_calls_per_s": asyncRate, "inflight": float64(inflight),
	})
	fmt.Println(string(out))
}
