// Command gen regenerates the golden gob fixtures next to it:
//
//	cd tests/interop/golden && go run gen.go
//
// Each case runs in a fresh child process so that Go's process-wide type ids
// start at 65, as a fresh minirpc gob.Encoder's do.  Every NAME.hex file holds
// the hex of everything one gob.Encoder wrote for that case (maps have at most
// one entry, so the bytes do not depend on Go's map order).  The rpc_*.hex files
// hold both directions of a real net/rpc exchange over TCP.
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/rpc"
	"os"
	"os/exec"
	"sort"
	"sync"
)

type Point struct{ X, Y int }

type Request struct {
	ServiceMethod string
	Seq           uint64
}

type Response struct {
	ServiceMethod string
	Seq           uint64
	Error         string
}

type Args struct{ A, B int }

type Inner struct {
	Name   string
	Tags   []string
	Scores map[string]int
}

type Nested struct {
	ID    int64
	Label string
	In    Inner
	Items []Inner
	Index map[string]Inner
	Ptr   *Inner
	Data  []byte
	Flag  bool
	Ratio float64
	U     uint64
}

type Ints struct {
	Min, Max, Neg int64
	UMax          uint64
	Small         int32
}

type Node struct {
	Value int
	Kids  []Node
}

type WithArray struct{ A [3]int }

type Empty struct{}

func sampleNested() Nested {
	return Nested{
		ID: -42, Label: "nested ✓",
		In:    Inner{Name: "in", Tags: []string{"a", "b"}, Scores: map[string]int{"x": 1}},
		Items: []Inner{{Name: "i0"}, {}, {Tags: []string{""}, Scores: map[string]int{"z": 0}}},
		Index: map[string]Inner{"k": {Name: "v", Tags: []string{"t"}}},
		Ptr:   &Inner{Name: "ptr"},
		Data:  []byte{0, 1, 2, 255}, Flag: true, Ratio: 0.5, U: math.MaxUint64,
	}
}

var cases = map[string][]interface{}{
	"int_3":          {3},
	"int_0":          {0},
	"int_neg129":     {-129},
	"int_extremes":   {int64(math.MinInt64), int64(math.MaxInt64)},
	"uint_values":    {uint64(0), uint64(7), uint64(255), uint64(256), uint64(1 << 63), uint64(math.MaxUint64)},
	"float_values":   {17.0, math.Copysign(0, -1), 0.5, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64},
	"bool_values":    {true, false},
	"string_hi":      {"hi"},
	"string_unicode": {"héllo, 世界 🌍"},
	"bytes_value":    {[]byte{0, 1, 2, 255}},
	"complex_value":  {complex(1.5, -2)},
	"point":          {Point{22, 33}},
	"point_twice":    {Point{22, 33}, Point{1, 0}},
	"point_zero":     {Point{}},
	"empty_struct":   {struct{}{}},
	"named_empty":    {Empty{}},
	"slice_string":   {[]string{"a", "", "b"}},
	"slice_points":   {[]Point{{1, 2}, {}}},
	"map_string_int": {map[string]int{"a": 1}},
	"nested":         {sampleNested()},
	"nested_zero":    {Nested{}},
	"ints":           {Ints{Min: math.MinInt64, Max: math.MaxInt64, Neg: -1, UMax: math.MaxUint64, Small: math.MinInt32}},
	"recursive":      {Node{1, []Node{{2, nil}, {3, []Node{{4, nil}}}}}},
	"array":          {WithArray{[3]int{1, 0, 3}}},
	"array_zero":     {WithArray{}},
	"array_points":   {[2]Point{{1, 2}, {}}},
	"request_args":   {Request{"Arith.Add", 0}, Args{7, 8}, Request{"Arith.Add", 1}, Args{0, -1}},
	"response_error": {Response{"Arith.Div", 5, "divide by zero"}, struct{}{}},
}

type recorder struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(p)
	r.mu.Unlock()
	return r.Conn.Write(p)
}

type Arith int

func (t *Arith) Add(args Args, reply *int) error { *reply = args.A + args.B; return nil }
func (t *Arith) Div(args Args, reply *int) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	*reply = args.A / args.B
	return nil
}

// rpcExchange records both directions of sequential calls between a Go client and server.
func rpcExchange() (client, server []byte) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	srv := rpc.NewServer()
	must(srv.Register(new(Arith)))
	srvConn := make(chan *recorder, 1)
	go func() {
		c, err := lis.Accept()
		must(err)
		rec := &recorder{Conn: c}
		srvConn <- rec
		srv.ServeConn(rec)
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	must(err)
	crec := &recorder{Conn: c}
	cl := rpc.NewClient(crec)
	var n int
	must(cl.Call("Arith.Add", Args{7, 8}, &n))
	if cl.Call("Arith.Div", Args{7, 0}, &n) == nil {
		panic("want an error")
	}
	must(cl.Call("Arith.Add", Args{1, 2}, &n))
	if cl.Call("Arith.Nope", Args{}, &n) == nil {
		panic("want an error")
	}
	cl.Close()
	srec := <-srvConn
	srec.mu.Lock()
	defer srec.mu.Unlock()
	return crec.buf.Bytes(), srec.buf.Bytes()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "case" {
		var buf bytes.Buffer
		if os.Args[2] == "rpc" {
			c, s := rpcExchange()
			fmt.Println(hex.EncodeToString(c))
			fmt.Println(hex.EncodeToString(s))
			return
		}
		enc := gob.NewEncoder(&buf)
		for _, v := range cases[os.Args[2]] {
			must(enc.Encode(v))
		}
		fmt.Println(hex.EncodeToString(buf.Bytes()))
		return
	}
	self, err := os.Executable()
	must(err)
	names := []string{}
	for name := range cases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range append(names, "rpc") {
		out, err := exec.Command(self, "case", name).Output()
		must(err)
		if name == "rpc" {
			lines := bytes.SplitN(out, []byte("\n"), 2)
			must(os.WriteFile("rpc_client_to_server.hex", append(lines[0], '\n'), 0o644))
			must(os.WriteFile("rpc_server_to_client.hex", lines[1], 0o644))
			continue
		}
		must(os.WriteFile(name+".hex", out, 0o644))
	}
	fmt.Println("wrote", len(names)+2, "fixtures")
}
