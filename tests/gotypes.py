"""The Go types of tests/interop/goapp and tests/interop/golden/gen.go, in Python.

Field names are Go's (gob matches fields by exact name); ``Uint`` and
``Int32`` say what Python's one ``int`` cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from minirpc.examples import Args, Quotient  # noqa: F401 (Go's Args and Quotient)
from minirpc.gob import Int32, Uint


@dataclass
class Point:
    X: int = 0
    Y: int = 0


@dataclass
class Inner:
    Name: str = ""
    Tags: list[str] = field(default_factory=list)
    Scores: dict[str, int] = field(default_factory=dict)


@dataclass
class Nested:
    ID: int = 0
    Label: str = ""
    In: Inner = field(default_factory=Inner)
    Items: list[Inner] = field(default_factory=list)
    Index: dict[str, Inner] = field(default_factory=dict)
    Ptr: Optional[Inner] = None
    Data: bytes = b""
    Flag: bool = False
    Ratio: float = 0.0
    U: Uint = 0


@dataclass
class Ints:
    Min: int = 0
    Max: int = 0
    Neg: int = 0
    UMax: Uint = 0
    Small: Int32 = 0


@dataclass
class Node:
    Value: int = 0
    Kids: list["Node"] = field(default_factory=list)


@dataclass
class WithArray:
    A: tuple[int, int, int] = (0, 0, 0)  # Go's [3]int
