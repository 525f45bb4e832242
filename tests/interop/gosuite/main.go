// Command gosuite serves, with Go's own net/rpc, the servers that the adapted
// Go tests in rpc/ and jsonrpc/ dial, so that the same test binaries can be
// pointed at real Go: every adapted test passing against Go's server is the
// check that the adaptation is faithful.
//
//	gosuite -serve    serve on 127.0.0.1 port 0; print one NAME=ADDRESS line per
//	                  server, then READY; exit when stdin closes or on a signal
//
// By hand:
//
//	cd tests/interop/gosuite && go build && go test -c -o rpc.test ./rpc
//	./gosuite -serve             # in one terminal; export the printed lines in another, then
//	./rpc.test -test.v
//
// What is served is what Go's tests set up for themselves (fixtures.go has their services):
//
//	MINIRPC_GOB_ADDR             DefaultServer (Arith, Embed, net.rpc.Arith, BuiltinTypes, S) over TCP
//	MINIRPC_GOB_NEW_ADDR         newServer (Arith, Embed, net.rpc.Arith, newServer.Arith) over TCP
//	MINIRPC_HTTP_ADDR            one HTTP server: DefaultServer on /_goRPC_ (HandleHTTP) ...
//	MINIRPC_HTTP_FOO_ADDR        ... and newServer on /foo (the same address)
//	MINIRPC_JSON_ADDR            jsonrpc's Arith and BuiltinTypes over jsonrpc.ServeConn
//	MINIRPC_JSON_MALFORMED_ADDR  TestMalformedOutput's server end: writes a reply with
//	                             neither result nor error, then reads until the client closes
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/rpc"
	"net/rpc/jsonrpc"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	serve := flag.Bool("serve", false, "serve Go's test servers until stdin closes")
	flag.Parse()
	if !*serve {
		flag.Usage()
		os.Exit(2)
	}

	must(rpc.Register(new(Arith)))
	must(rpc.Register(new(Embed)))
	must(rpc.RegisterName("net.rpc.Arith", new(Arith)))
	must(rpc.Register(BuiltinTypes{}))
	must(rpc.Register(new(S)))
	l := listen("MINIRPC_GOB_ADDR")
	go rpc.Accept(l)

	newServer := rpc.NewServer()
	must(newServer.Register(new(Arith)))
	must(newServer.Register(new(Embed)))
	must(newServer.RegisterName("net.rpc.Arith", new(Arith)))
	must(newServer.RegisterName("newServer.Arith", new(Arith)))
	l = listen("MINIRPC_GOB_NEW_ADDR")
	go newServer.Accept(l)

	rpc.HandleHTTP()
	newServer.HandleHTTP("/foo", "/bar")
	l = listen("MINIRPC_HTTP_ADDR")
	fmt.Printf("MINIRPC_HTTP_FOO_ADDR=%s\n", l.Addr())
	go http.Serve(l, nil)

	jsonServer := rpc.NewServer()
	must(jsonServer.RegisterName("Arith", new(JSONArith)))
	must(jsonServer.RegisterName("BuiltinTypes", JSONBuiltinTypes{}))
	l = listen("MINIRPC_JSON_ADDR")
	go acceptEach(l, func(c net.Conn) { jsonServer.ServeCodec(jsonrpc.NewServerCodec(c)) })

	l = listen("MINIRPC_JSON_MALFORMED_ADDR")
	go acceptEach(l, func(c net.Conn) {
		defer c.Close()
		c.Write([]byte(`{"id":0,"result":null,"error":null}`))
		io.ReadAll(c)
	})

	fmt.Println("READY")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop <- os.Interrupt
	}()
	<-stop
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// listen opens 127.0.0.1 port 0 and prints NAME=ADDRESS.
func listen(name string) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	fmt.Printf("%s=%s\n", name, l.Addr())
	return l
}

func acceptEach(l net.Listener, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}
