"""A tiny service to play with: the Arith example from Go's net/rpc docs.

Go's documentation introduces net/rpc with this service::

    type Args struct{ A, B int }
    type Quotient struct{ Quo, Rem int }
    func (t *Arith) Multiply(args *Args, reply *int) error
    func (t *Arith) Divide(args *Args, quo *Quotient) error

Here it is in minirpc's Python spelling (return the reply, raise for an
error).  The field names match Go's, so a Go client can call it::

    python -m minirpc serve minirpc.examples:Arith --address 127.0.0.1:1234
    python -m minirpc call 127.0.0.1:1234 Arith.Multiply '{"A": 7, "B": 8}'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Args:
    A: int = 0
    B: int = 0


@dataclass
class Quotient:
    Quo: int = 0
    Rem: int = 0


class Arith:
    def Multiply(self, args: Args) -> int:
        return args.A * args.B

    def Divide(self, args: Args) -> Quotient:
        if args.B == 0:
            raise ZeroDivisionError("divide by zero")  # the client sees exactly this text
        # Go's / and % truncate toward zero; Python's // and % round down.
        quo = abs(args.A) // abs(args.B) * (1 if (args.A < 0) == (args.B < 0) else -1)
        return Quotient(Quo=quo, Rem=args.A - quo * args.B)
