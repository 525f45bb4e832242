#!/usr/bin/env python
"""Does a call cost in proportion to its size?  python benchmarks/sizes.py

One client and one server in this process, on 127.0.0.1 port 0, for each codec:
an echo of 1, 4 and 16 MiB (``--sizes``), as ``bytes`` (base64 in JSON) and as
``str``, each timed once, printed as milliseconds and milliseconds per MiB.
The messages cross the socket in pieces (the stream reads up to 64 KiB at a
time), so a format that looks at the bytes it has again on every piece shows
here as a cost per MiB that grows with the size: the figures of one codec
should be about flat down the column.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minirpc  # noqa: E402


@dataclass
class Blob:
    Data: bytes = b""
    Text: str = ""


class Echo:
    def Blob(self, blob: Blob) -> Blob:
        return blob


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,16", help="MiB, comma-separated")
    parser.add_argument("--codecs", default="json,gob")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    server = minirpc.Server(max_message=2 * max(sizes) << 20)
    server.register(Echo())
    try:
        for codec in args.codecs.split(","):
            serving = server.start("127.0.0.1:0", codec=codec)
            with minirpc.dial(serving.address, codec=codec, max_message=2 * max(sizes) << 20) as client:
                for mib in sizes:
                    for kind, blob in (("bytes", Blob(Data=b"x" * (mib << 20))), ("str", Blob(Text="y" * (mib << 20)))):
                        start = time.perf_counter()
                        echoed = client.call("Echo.Blob", blob, reply_type=Blob)
                        took = time.perf_counter() - start
                        if echoed != blob:
                            raise AssertionError(f"{codec} {kind} {mib} MiB: the echo differs")
                        print(f"{codec:4} {kind:5} {mib:3d} MiB echoed: {took * 1000:8.1f} ms "
                              f"({took * 1000 / mib:6.1f} ms per MiB)", flush=True)
            serving.close()
    finally:
        server.close()


if __name__ == "__main__":
    main()
