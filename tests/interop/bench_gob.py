"""A tiny micro-benchmark of the gob codec (not a test; run it by hand):

    python tests/interop/bench_gob.py

Prints microseconds per message for encoding and decoding a small and a
medium struct with one stream's Encoder/Decoder (type definitions already
exchanged), next to json + dataclasses for scale.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from minirpc import gob, gobrpc  # noqa: E402


@dataclass
class Args:
    A: int = 0
    B: int = 0


@dataclass
class Post:
    ID: int = 0
    Title: str = ""
    Tags: list[str] = field(default_factory=list)
    Scores: dict[str, float] = field(default_factory=dict)


def per_call(fn, n: int = 5000, rounds: int = 7) -> float:
    """Best-of-rounds microseconds per call (the least disturbed by other processes)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


def main() -> None:
    cases = [("Args{7,8}", Args(7, 8)), ("Post{4 fields, list, map}", Post(1, "hello", ["a", "b"], {"x": 1.5}))]
    for name, value in cases:
        cls = type(value)
        encoder = gob.Encoder()
        first = encoder.encode(value)
        message = encoder.encode(value)  # no definitions any more
        decoder = gob.Decoder()
        decoder.feed(first)
        decoder.decode(cls)
        payload = message[1:]  # strip the one-byte length prefix
        text = json.dumps(dataclasses.asdict(value))
        print(f"{name:28s} gob encode {per_call(lambda: encoder.encode(value)):6.2f} µs   "
              f"gob decode {per_call(lambda: decoder.read_message(payload, cls)):6.2f} µs   "
              f"json encode {per_call(lambda: json.dumps(dataclasses.asdict(value))):6.2f} µs   "
              f"json decode {per_call(lambda: cls(**json.loads(text))):6.2f} µs")
    encoder = gob.Encoder()
    header = gobrpc.Request("Arith.Add", 1)
    encoder.encode(header)
    print(f"{'rpc Request header':28s} gob encode {per_call(lambda: encoder.encode(header)):6.2f} µs")


if __name__ == "__main__":
    main()
