// Copyright 2014 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Adapted for minirpc from Go 1.19's src/net/rpc/client_test.go.
//
// What changed, and nothing else:
//   - TestGobError dials the external server at MINIRPC_GOB_ADDR (see server_test.go)
//     instead of registering S on Go's DefaultServer and serving it from this process.
//     S and R moved to the servers (../fixtures.go for Go, test_go_suite.py for
//     minirpc, where R is a dataclass with only an underscore field).
//   - Not copied: TestCloseCodec tests Go's client against a fake codec; no server takes part.
//
// Every assertion is Go's, unchanged.

package rpc

import (
	"fmt"
	. "net/rpc"
	"strings"
	"testing"
)

// Test that errors in gob shut down the connection. Issue 7689.
//
// The server's S.Recv replies with R{msg []byte}: msg is not exported, so R
// does not work with gob. The server writes the response header, fails to
// encode the body and must close the connection; the client then fails to
// read the body.
func TestGobError(t *testing.T) {
	defer func() {
		err := recover()
		if err == nil {
			t.Fatal("no error")
		}
		if !strings.Contains(err.(error).Error(), "reading body unexpected EOF") {
			t.Fatal("expected `reading body unexpected EOF', got", err)
		}
	}()
	once.Do(startServer) // adapted: Go registers S and serves it here

	client, err := Dial("tcp", serverAddr)
	if err != nil {
		panic(err)
	}

	var reply Reply
	err = client.Call("S.Recv", &struct{}{}, &reply)
	if err != nil {
		panic(err)
	}

	fmt.Printf("%#v\n", reply)
	client.Close()
}

// TestGobErrorIsAnswered is not Go's: it is what minirpc does where Go's
// server closes the connection (TestGobError above). minirpc encodes a reply
// before writing a byte of it, so when the body cannot be encoded it sends an
// error reply instead, and the connection goes on serving. Run against minirpc
// only (test_go_suite.py says so); TestGobError runs against Go's server.
func TestGobErrorIsAnswered(t *testing.T) {
	once.Do(startServer)
	client, err := Dial("tcp", serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var reply Reply
	err = client.Call("S.Recv", &struct{}{}, &reply)
	want := "rpc: cannot encode reply: gob: type R has no exported fields"
	if err == nil || err.Error() != want {
		t.Fatalf("expected %q, got %v", want, err)
	}
	args := &Args{7, 8}
	if err := client.Call("Arith.Add", args, &reply); err != nil || reply.C != 15 {
		t.Fatalf("the connection should still serve: Add(7, 8) = %v, %v", reply, err)
	}
}

