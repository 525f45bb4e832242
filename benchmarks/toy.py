"""The yardstick: a minimal threaded JSON-RPC 1.0 server and Go-style client.

This is what a competent programmer writes in an afternoon when asked for
"Go's net/rpc with the JSON codec, in Python": Go's wire format
(``{"method": "Arith.Add", "params": [{...}], "id": 7}`` answered by
``{"id": 7, "result": ..., "error": null}``, one JSON value a line), a thread
per connection reading requests and handing each one to a worker of a
``ThreadPoolExecutor`` (so a slow call does not hold up the others on its
connection, as in Go), replies written under a lock; a client with one reader
thread, a ``seq -> Future`` dict of pending calls and ``call`` = ``go`` + wait.
It does the work minirpc does on every call -- find ``"Service.Method"`` in a
dict of registered bound methods, turn ``params[0]`` into the method's
dataclass, send the reply back -- and nothing more: no limits, no timeouts, no
gob, no HTTP, and a bad request only closes its connection.  minirpc claims to
be a real library that costs nothing over this; ``bench.py`` checks the claim.
"""

from __future__ import annotations

import json
import socket
import threading
import typing
from concurrent.futures import Future, ThreadPoolExecutor


def serve(address: str, *services) -> str:
    """Serve the public methods of ``services`` as "Type.Method" on "host:port"
    from background threads; return the address bound."""
    methods = {}  # "Arith.Add" -> (bound method, its argument's dataclass)
    for service in services:
        for name in [n for n in dir(service) if not n.startswith("_")]:
            hints = typing.get_type_hints(getattr(service, name))
            arg_type = next(iter(hints.values()))  # the first annotation is the argument's
            methods[f"{type(service).__name__}.{name}"] = (getattr(service, name), arg_type)
    host, _, port = address.rpartition(":")
    listener, pool = socket.create_server((host, int(port))), ThreadPoolExecutor()

    def accept():
        while True:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small messages leave at once
            threading.Thread(target=serve_conn, args=(conn,), daemon=True).start()

    def serve_conn(conn):
        write_lock = threading.Lock()

        def run(request):
            try:
                if request["method"] not in methods:
                    raise LookupError("rpc: can't find method " + request["method"])
                method, arg_type = methods[request["method"]]
                reply = {"id": request["id"], "result": method(arg_type(**request["params"][0])), "error": None}
            except Exception as e:  # the caller gets the text; the server goes on
                reply = {"id": request.get("id"), "result": None, "error": str(e) or type(e).__name__}
            data = json.dumps(reply).encode() + b"\n"
            with write_lock:
                conn.sendall(data)

        with conn, conn.makefile("rb") as lines:
            for line in lines:  # invalid JSON raises here and closes the connection, as in Go
                pool.submit(run, json.loads(line))

    threading.Thread(target=accept, daemon=True).start()
    return "%s:%d" % listener.getsockname()[:2]


class Client:
    """Go's rpc.Client in miniature: ``go`` sends and returns a Future, ``call`` waits for it."""

    def __init__(self, address: str):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_lock, self.seq, self.pending = threading.Lock(), 0, {}
        threading.Thread(target=self._read, daemon=True).start()

    def go(self, method: str, args) -> Future:
        future = Future()
        with self.send_lock:
            self.seq += 1
            self.pending[self.seq] = future  # before sending: the reply may be back at once
            request = {"method": method, "params": [vars(args)], "id": self.seq}  # shallow, like Args(**params[0])
            self.sock.sendall(json.dumps(request).encode() + b"\n")
        return future

    def call(self, method: str, args):
        return self.go(method, args).result()

    def _read(self):
        with self.sock.makefile("rb") as lines:
            for line in lines:
                reply = json.loads(line)
                future = self.pending.pop(reply["id"])  # one dict operation: atomic in CPython
                if reply["error"] is None:
                    future.set_result(reply["result"])
                else:
                    future.set_exception(RuntimeError(reply["error"]))
        for future in list(self.pending.values()):  # the connection is gone
            future.set_exception(ConnectionError("connection closed"))

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # the reader sees EOF and fails what is pending
        self.sock.close()
