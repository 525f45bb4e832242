// Command gohttp is the Go side of minirpc's HTTP-tunnel interop tests.
// It uses only Go's standard library.
//
//	gohttp server gob|json        serve Arith over HTTP; prints "LISTEN host:port", stops when stdin closes
//	gohttp client ADDR gob|json   call Arith through the CONNECT tunnel; prints one JSON object
//	gohttp dialpath ADDR PATH     rpc.DialHTTPPath and print the error (or "ok")
//	gohttp get URL                GET a page; prints the status, the Content-Type, then the body
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
)

type Args struct{ A, B int }
type Quotient struct{ Quo, Rem int }
type Arith int

func (t *Arith) Multiply(args *Args, reply *int) error {
	*reply = args.A * args.B
	return nil
}

func (t *Arith) Divide(args *Args, quo *Quotient) error {
	if args.B == 0 {
		return errors.New("divide by zero")
	}
	quo.Quo = args.A / args.B
	quo.Rem = args.A % args.B
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func serve(codec string) {
	if err := rpc.Register(new(Arith)); err != nil {
		fail(err)
	}
	if codec == "gob" {
		rpc.HandleHTTP()
	} else {
		// The same tunnel as rpc.HandleHTTP, speaking JSON-RPC after the handshake.
		rpc.DefaultServer.HandleHTTP("/_goRPC_gob", rpc.DefaultDebugPath)
		http.HandleFunc(rpc.DefaultRPCPath, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != "CONNECT" {
				http.Error(w, "405 must CONNECT", http.StatusMethodNotAllowed)
				return
			}
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			io.WriteString(conn, "HTTP/1.0 200 Connected to Go RPC\n\n")
			jsonrpc.ServeConn(conn)
		})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Println("LISTEN", lis.Addr().String())
	go http.Serve(lis, nil)
	io.Copy(io.Discard, os.Stdin) // serve until the test closes our stdin
}

func dial(addr, codec string) (*rpc.Client, error) {
	if codec == "gob" {
		return rpc.DialHTTP("tcp", addr)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	io.WriteString(conn, "CONNECT "+rpc.DefaultRPCPath+" HTTP/1.0\n\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "CONNECT"})
	if err != nil {
		return nil, err
	}
	if resp.Status != "200 Connected to Go RPC" {
		return nil, errors.New("unexpected HTTP response: " + resp.Status)
	}
	return jsonrpc.NewClient(conn), nil
}

func client(addr, codec string) {
	c, err := dial(addr, codec)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	out := map[string]any{}
	var product int
	if err := c.Call("Arith.Multiply", &Args{7, 8}, &product); err != nil {
		fail(err)
	}
	out["multiply"] = product
	var quo Quotient
	if err := c.Call("Arith.Divide", &Args{17, 5}, &quo); err != nil {
		fail(err)
	}
	out["divide"] = quo
	err = c.Call("Arith.Divide", &Args{1, 0}, &quo)
	out["divide_error"] = fmt.Sprint(err)
	json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	if len(os.Args) < 3 {
		fail(errors.New("usage: gohttp server|client|dialpath|get ..."))
	}
	switch os.Args[1] {
	case "server":
		serve(os.Args[2])
	case "client":
		client(os.Args[2], os.Args[3])
	case "dialpath":
		c, err := rpc.DialHTTPPath("tcp", os.Args[2], os.Args[3])
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Close()
		fmt.Println("ok")
	case "get":
		resp, err := http.Get(os.Args[2])
		if err != nil {
			fail(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%s\n%s\n%s", resp.Status, resp.Header.Get("Content-Type"), body)
	default:
		fail(errors.New("unknown mode " + os.Args[1]))
	}
}
