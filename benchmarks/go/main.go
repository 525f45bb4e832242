// gobench: Go's net/rpc as a benchmark peer for minirpc.
//
//	gobench server -codec gob|json [-addr 127.0.0.1:0]   prints "ADDR host:port", serves until stdin closes
//	gobench client -codec gob|json -addr host:port -n N -inflight K [-method Arith.Add]
//	    prints one JSON line: sequential p50/p99 (µs), calls/s, and calls/s with K calls in flight
//	    (-inflight 0: sequential calls only)
//
// The service is Arith.Add(Args{A, B}) -> int, the same one bench.py serves from Python.
// The client drives any server that has such a method: Go's, minirpc's, or another
// JSON-RPC 1.0 server (-codec json), e.g. benchmarks/toy.py.
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
	inflight := fs.Int("inflight", 64, "calls in flight for the throughput test (0: no throughput test)")
	method := fs.String("method", "Arith.Add", "client: the method to call, taking {A, B int} and returning A+B")
	fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "server":
		serve(*codec, *addr)
	case "client":
		bench(*codec, *addr, *method, *n, *inflight)
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

func bench(codec, addr, method string, n, inflight int) {
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
		if err := client.Call(method, Args{i, 1}, &reply); err != nil {
			log.Fatal("warm-up call: ", err)
		}
	}
	lat := make([]float64, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if err := client.Call(method, Args{i, 1}, &reply); err != nil || reply != i+1 {
			log.Fatal("bad reply ", reply, " ", err)
		}
		lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
	}
	seqRate := float64(n) / time.Since(start).Seconds()
	sort.Float64s(lat)

	out := map[string]float64{
		"p50_us": lat[n/2], "p99_us": lat[n*99/100], "seq_calls_per_s": seqRate, "inflight": float64(inflight),
	}
	if inflight > 0 {
		out["inflight_calls_per_s"] = throughput(client, method, n*2, inflight)
	}
	line, _ := json.Marshal(out)
	fmt.Println(string(line))
}

// throughput keeps `inflight` calls outstanding on the one connection until
// `total` calls are done; it returns calls/s.
func throughput(client *rpc.Client, method string, total, inflight int) float64 {
	done := make(chan *rpc.Call, inflight)
	replies := make([]int, inflight)
	start := time.Now()
	sent := 0
	for ; sent < inflight && sent < total; sent++ {
		client.Go(method, Args{sent, 1}, &replies[sent], done)
	}
	for got := 0; got < total; got++ {
		call := <-done
		if call.Error != nil {
			log.Fatal(call.Error)
		}
		if args, reply := call.Args.(Args), *call.Reply.(*int); reply != args.A+1 {
			log.Fatal("bad reply ", reply, " to ", args)
		}
		if sent < total {
			client.Go(method, Args{sent, 1}, call.Reply, done)
			sent++
		}
	}
	return float64(total) / time.Since(start).Seconds()
}
