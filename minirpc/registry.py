"""The registry: which methods of which objects may be called from the network.

Go's net/rpc exports a method when it looks like this::

    func (t *T) MethodName(args T1, reply *T2) error

Python has no reply pointers or error returns, so the rule translates to::

    class T:
        def MethodName(self, args: T1) -> T2:   # return the reply, raise for an error

A method is *suitable* when

1. it is exported -- its name starts with an upper-case letter, Go's rule --
   and it is a plain method (not async, not a generator);
2. it takes exactly one argument after ``self``, with a type annotation;
3. it has a return annotation;
4. both types are value types (see ``minirpc.values``): bool, int, float, str,
   bytes, list[T], dict[K, V], Optional[T], a dataclass, or Any.

Unsuitable methods are skipped, as in Go, but never silently: each
``Service.skipped`` entry names the method and the rule it broke, and when
nothing qualifies ``register`` raises ``RegistrationError`` listing them all
(Python's own ``_private`` names are not listed).  ``register`` also wants the
class name exported (``arith`` is refused, as Go refuses it);
``register_name`` publishes under any non-empty name.
A call arrives as ``"Service.Method"``, split at the *last* dot as in Go, so a
service may be registered as ``"net.rpc.Arith"``.
"""

from __future__ import annotations

import inspect
import threading
import typing
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import RegistrationError
from .values import is_value_type, type_name


@dataclass
class Method:
    """One callable method: ``Arith.Multiply(args: Args) -> int``."""

    name: str
    function: Callable[[Any], Any]  # bound to the receiver object
    arg_type: Any
    reply_type: Any
    num_calls: int = 0
    # protects num_calls: calls on many threads count concurrently
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def call(self, args: Any) -> Any:
        with self._lock:
            self.num_calls += 1
        return self.function(args)

    def signature(self) -> str:
        return f"{self.name}({type_name(self.arg_type)}) -> {type_name(self.reply_type)}"


@dataclass
class Service:
    """A registered object: its name, its callable methods and what was skipped."""

    name: str
    receiver: Any
    methods: dict[str, Method]
    skipped: list[tuple[str, str]]  # (method name, the rule it broke)


def signatures(cls: type) -> tuple[dict[str, tuple[Any, Any]], list[tuple[str, str]]]:
    """A class's suitable methods as {name: (arg_type, reply_type)}, and the skipped ones
    as (name, the rule it broke).  The client's typed proxies read services this way too."""
    found, skipped = {}, []
    for name, function in inspect.getmembers(cls, inspect.isfunction):
        if name.startswith("_"):
            continue
        why = _why_unsuitable(function) if name[:1].isupper() else \
            "is not exported (Go publishes names that start with an upper-case letter)"
        if isinstance(why, str):
            skipped.append((name, why))
        else:
            found[name] = why
    return found, skipped


def suitable_methods(receiver: Any) -> tuple[dict[str, Method], list[tuple[str, str]]]:
    """Sort the receiver's public methods into suitable ones and skipped ones."""
    found, skipped = signatures(type(receiver))
    methods = {name: Method(name, getattr(receiver, name), arg, reply) for name, (arg, reply) in found.items()}
    return methods, skipped


def _why_unsuitable(function: Callable) -> str | tuple[Any, Any]:
    """Return (arg_type, reply_type) for a suitable method, else the broken rule."""
    if inspect.iscoroutinefunction(function):  # (minirpc.aio serves one marked @minirpc.aio.async_method)
        return "must be a plain method, not async (for minirpc.aio, mark it @minirpc.aio.async_method)"
    if inspect.isgeneratorfunction(function):
        return "must be a plain method, not a generator"
    params = list(inspect.signature(function).parameters.values())[1:]  # drop self
    if len(params) != 1 or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        return f"takes {len(params)} arguments after self; needs exactly one"
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as e:  # an annotation naming something undefined
        return f"annotations cannot be resolved: {e}"
    arg = params[0].name
    if arg not in hints:
        return f"argument {arg!r} has no type annotation"
    if "return" not in hints:
        return "has no return type annotation (say -> None for no reply)"
    for what, tp in (("argument", hints[arg]), ("return", hints["return"])):
        why = is_value_type(tp)
        if why:
            return f"{what} type: {why}"
    return hints[arg], hints["return"]


class Registry:
    """Services by name; ``lookup("Arith.Multiply")`` finds the method."""

    def __init__(self) -> None:
        self._services: dict[str, Service] = {}
        # protects _services against two registrations racing; lookups read the
        # dict without it (a dict read is atomic in CPython, like Go's sync.Map)
        self._lock = threading.Lock()

    def register(self, receiver: Any, name: str | None = None) -> Service:
        type_ = type(receiver).__name__
        if name is None:
            name = type_
            if not name[:1].isupper():
                raise RegistrationError(f"rpc.Register: type {name} is not exported")
        if not name:
            raise RegistrationError(f"rpc.Register: no service name for type {type_}")
        methods, skipped = suitable_methods(receiver)
        if not methods:
            detail = "".join(f"\n  {type_}.{m}: {why}" for m, why in skipped) or " (it has no exported methods at all)"
            raise RegistrationError(f"rpc.Register: type {type_} has no exported methods of suitable type:{detail}")
        service = Service(name, receiver, methods, skipped)
        with self._lock:
            if name in self._services:
                raise RegistrationError(f"rpc: service already defined: {name}")
            self._services[name] = service
        return service

    def lookup(self, service_method: str) -> Method:
        """Find a method by wire name, or raise ``LookupError`` with Go's text."""
        service_name, dot, method_name = service_method.rpartition(".")
        if not dot:
            raise LookupError(f"rpc: service/method request ill-formed: {service_method}")
        service = self._services.get(service_name)
        if service is None:
            raise LookupError(f"rpc: can't find service {service_method}")
        method = service.methods.get(method_name)
        if method is None:
            raise LookupError(f"rpc: can't find method {service_method}")
        return method

    def services(self) -> list[Service]:
        return sorted(self._services.values(), key=lambda s: s.name)
