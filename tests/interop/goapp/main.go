// Command goapp is the Go peer of minirpc's interop tests (standard library only).
//
//	goapp server -codec gob|json     serve net/rpc on 127.0.0.1:0, print "LISTEN addr",
//	                                 exit when stdin closes or on a signal
//	goapp client -codec gob|json -addr host:port
//	                                 run a scripted set of calls, print one JSON line each:
//	                                 {"name":..., "ok":bool, "error":"...", "reply":...}
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }

type Arith int

func (t *Arith) Add(args Args, reply *int) error  { *reply = args.A + args.B; return nil }
func (t *Arith) Mul(args *Args, reply *int) error { *reply = args.A * args.B; return nil }
func (t *Arith) Div(args Args, reply *Quotient) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	*reply = Quotient{args.A / args.B, args.A % args.B}
	return nil
}

// Sleep sleeps ms milliseconds and replies with ms, so calls finish out of order.
func (t *Arith) Sleep(ms int, reply *int) error {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	*reply = ms
	return nil
}

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

type WithArray struct{ A [3]int }

type Echo int

func (Echo) Nested(n Nested, r *Nested) error       { *r = n; return nil }
func (Echo) Bytes(b []byte, r *[]byte) error        { *r = b; return nil }
func (Echo) String(s string, r *string) error       { *r = s; return nil }
func (Echo) Floats(f []float64, r *[]float64) error { *r = f; return nil }
func (Echo) Ints(v Ints, r *Ints) error             { *r = v; return nil }
func (Echo) Array(a WithArray, r *WithArray) error  { *r = a; return nil }
func (Echo) Map(m map[string]int, r *map[string]int) error {
	*r = m
	return nil
}

// BuiltinTypes is from Go's server_test.go: replies that are a map, a slice and an array.
type BuiltinTypes struct{}

func (BuiltinTypes) Map(args *Args, reply *map[int]int) error {
	(*reply)[args.A] = args.B
	return nil
}

func (BuiltinTypes) Slice(args *Args, reply *[]int) error {
	*reply = append(*reply, args.A, args.B)
	return nil
}

func (BuiltinTypes) Array(args *Args, reply *[2]int) error {
	(*reply)[0] = args.A
	(*reply)[1] = args.B
	return nil
}

func serve(codec string) {
	srv := rpc.NewServer()
	must(srv.Register(new(Arith)))
	must(srv.Register(new(Echo)))
	must(srv.Register(BuiltinTypes{}))
	must(srv.RegisterName("net.rpc.Arith", new(Arith)))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	fmt.Printf("LISTEN %s\n", lis.Addr())
	go func() { // the test closes our stdin to stop us
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		conn, err := lis.Accept()
		if err != nil {
			return
		}
		if codec == "json" {
			go srv.ServeCodec(jsonrpc.NewServerCodec(conn))
		} else {
			go srv.ServeConn(conn)
		}
	}
}

type result struct {
	Name  string      `json:"name"`
	OK    bool        `json:"ok"`
	Error string      `json:"error,omitempty"`
	Reply interface{} `json:"reply,omitempty"`
}

var out = bufio.NewWriter(os.Stdout)

func report(name string, ok bool, err error, reply interface{}) {
	r := result{Name: name, OK: ok, Reply: reply}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := json.Marshal(r)
	out.Write(append(b, '\n'))
}

func SampleNested() Nested {
	return Nested{
		ID: -42, Label: "nested ✓",
		In:    Inner{Name: "in", Tags: []string{"a", "b"}, Scores: map[string]int{"x": 1, "y": -2}},
		Items: []Inner{{Name: "i0"}, {}, {Tags: []string{""}, Scores: map[string]int{"z": 0}}},
		Index: map[string]Inner{"k": {Name: "v", Tags: []string{"t"}}},
		Ptr:   &Inner{Name: "ptr"},
		Data:  []byte{0, 1, 2, 255}, Flag: true, Ratio: 0.5, U: math.MaxUint64,
	}
}

func SampleInts() Ints {
	return Ints{Min: math.MinInt64, Max: math.MaxInt64, Neg: -1, UMax: math.MaxUint64, Small: math.MinInt32}
}

func client(codec, addr string) {
	var c *rpc.Client
	var err error
	if codec == "json" {
		c, err = jsonrpc.Dial("tcp", addr)
	} else {
		c, err = rpc.Dial("tcp", addr)
	}
	must(err)
	defer c.Close()

	var n int
	err = c.Call("Arith.Add", Args{7, 8}, &n)
	report("add", err == nil && n == 15, err, n)
	err = c.Call("Arith.Mul", &Args{7, 8}, &n)
	report("mul", err == nil && n == 56, err, n)
	var q Quotient
	err = c.Call("Arith.Div", Args{17, 5}, &q)
	report("div", err == nil && q == Quotient{3, 2}, err, q)
	err = c.Call("Arith.Div", Args{7, 0}, &q)
	report("div_by_zero", err != nil, err, nil)
	err = c.Call("Arith.Nope", Args{}, &n)
	report("unknown_method", err != nil, err, nil)
	err = c.Call("Nope.Add", Args{}, &n)
	report("unknown_service", err != nil, err, nil)
	err = c.Call("net.rpc.Arith.Add", Args{1, 2}, &n)
	report("register_name", err == nil && n == 3, err, n)
	var s string
	err = c.Call("Arith.Add", "not args", &n)
	report("wrong_arg_type", err != nil, err, nil)

	// 100 concurrent calls that finish in a different order from the one they were sent in.
	const calls = 100
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	replies := make([]int, calls)
	allOK := true
	for i := 0; i < calls; i++ {
		ms := (calls - i) % 10 * 5
		wg.Add(1)
		go func(i, ms int) {
			defer wg.Done()
			err := c.Call("Arith.Sleep", ms, &replies[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil || replies[i] != ms {
				allOK = false
			}
			order = append(order, i)
		}(i, ms)
	}
	wg.Wait()
	report("async_out_of_order", allOK && !sort.IntsAreSorted(order), nil, len(order))

	want := SampleNested()
	var got Nested
	err = c.Call("Echo.Nested", want, &got)
	report("nested", err == nil && sameButNil(want, got), err, got)
	got = Nested{}
	err = c.Call("Echo.Nested", Nested{}, &got)
	report("zero_struct", err == nil && sameButNil(Nested{}, got), err, got)

	big := bytes.Repeat([]byte{0, 1, 2, 3, 250, 251, 252, 253}, 1<<17)
	var back []byte
	err = c.Call("Echo.Bytes", big, &back)
	report("one_mib_bytes", err == nil && bytes.Equal(big, back), err, len(back))

	uni := "héllo, 世界 🌍 \u0000 end"
	err = c.Call("Echo.String", uni, &s)
	report("unicode", err == nil && s == uni, err, s)

	ints, gotInts := SampleInts(), Ints{}
	err = c.Call("Echo.Ints", ints, &gotInts)
	report("extreme_ints", err == nil && ints == gotInts, err, gotInts)

	arr, gotArr := WithArray{[3]int{1, 0, -3}}, WithArray{}
	err = c.Call("Echo.Array", arr, &gotArr)
	report("array", err == nil && arr == gotArr, err, gotArr)

	if codec != "json" { // JSON cannot carry NaN or infinities
		fs := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -0.0, 1.5, math.MaxFloat64, math.SmallestNonzeroFloat64}
		var gotF []float64
		err = c.Call("Echo.Floats", fs, &gotF)
		ok := err == nil && len(gotF) == len(fs)
		for i := range fs {
			ok = ok && i < len(gotF) && math.Float64bits(fs[i]) == math.Float64bits(gotF[i])
		}
		report("nan_inf_floats", ok, err, len(gotF))
	}
	out.Flush()
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "goapp:", err)
		os.Exit(2)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goapp server|client [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	codec := fs.String("codec", "gob", "gob or json")
	addr := fs.String("addr", "", "server address (client mode)")
	fs.Parse(os.Args[2:])
	switch strings.ToLower(os.Args[1]) {
	case "server":
		serve(*codec)
	case "client":
		client(*codec, *addr)
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}

// sameButNil is reflect.DeepEqual, except that a nil slice or map equals an
// empty one: Python has no nil slice, so JSON's null comes back as [] (or "").
func sameButNil(a, b interface{}) bool {
	return reflect.DeepEqual(emptyToNil(toPlain(a)), emptyToNil(toPlain(b)))
}

func toPlain(v interface{}) interface{} {
	data, _ := json.Marshal(v)
	var plain interface{}
	_ = json.Unmarshal(data, &plain)
	return plain
}

func emptyToNil(v interface{}) interface{} {
	switch x := v.(type) {
	case string: // a nil []byte is null, an empty one ""
		if x == "" {
			return nil
		}
	case []interface{}:
		if len(x) == 0 {
			return nil
		}
		for i := range x {
			x[i] = emptyToNil(x[i])
		}
	case map[string]interface{}:
		if len(x) == 0 {
			return nil
		}
		for k := range x {
			x[k] = emptyToNil(x[k])
		}
	}
	return v
}
