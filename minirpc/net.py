"""Sockets and codec names: the little bit of plumbing under server and client.

Go writes addresses as ``"host:port"`` strings and networks as ``"tcp"``,
``"tcp4"``, ``"tcp6"`` or ``"unix"``; so does minirpc.  Codecs are chosen by
name (``"gob"``, Go's default, or ``"json"``) or by passing a factory
``conn -> codec`` of your own.
"""

from __future__ import annotations

import socket
from typing import Any, Callable

from . import jsonrpc
from .codec import DEFAULT_MAX_MESSAGE

#: name -> (server codec factory, client codec factory); each takes (conn, max_message)
CODECS: dict[str, tuple[Callable, Callable]] = {
    "json": (jsonrpc.new_server_codec, jsonrpc.new_client_codec),
}
DEFAULT_CODEC = "json"

try:  # the gob codec is Go's default wire format
    from . import gobrpc

    CODECS["gob"] = (gobrpc.new_server_codec, gobrpc.new_client_codec)
    DEFAULT_CODEC = "gob"
except ImportError:  # pragma: no cover - only while gob is being written
    pass

_FAMILIES = {"tcp": socket.AF_UNSPEC, "tcp4": socket.AF_INET, "tcp6": socket.AF_INET6, "unix": socket.AF_UNIX}


def server_codec(codec: str | Callable | None, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> Any:
    """Make the server side of a codec for ``conn``, by name or factory."""
    if codec is None or isinstance(codec, str):
        return _lookup(codec)[0](conn, max_message)
    return codec(conn)


def client_codec(codec: str | Callable | None, conn: Any, max_message: int = DEFAULT_MAX_MESSAGE) -> Any:
    """Make the client side of a codec for ``conn``, by name or factory."""
    if codec is None or isinstance(codec, str):
        return _lookup(codec)[1](conn, max_message)
    return codec(conn)


def _lookup(name: str | None) -> tuple[Callable, Callable]:
    try:
        return CODECS[name or DEFAULT_CODEC]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}; known: {', '.join(sorted(CODECS))}") from None


def split_address(network: str, address: str | tuple) -> tuple[int, Any]:
    """``("tcp", "127.0.0.1:80")`` -> ``(family, ("127.0.0.1", 80))``."""
    if network not in _FAMILIES:
        raise ValueError(f"unknown network {network!r}; use tcp, tcp4, tcp6 or unix")
    family = _FAMILIES[network]
    if network == "unix":
        return family, str(address)
    if isinstance(address, tuple):
        host, port = address[0], address[1]
    else:
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ValueError(f"address {address!r} is missing a port (want host:port)")
    host = host.strip("[]")  # "[::1]:80"
    if family == socket.AF_UNSPEC:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), int(port))


def format_address(sockname: Any) -> str:
    """A socket name as Go prints it: ``127.0.0.1:8080``, ``[::1]:8080``, a path."""
    if isinstance(sockname, tuple):
        host, port = sockname[0], sockname[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return sockname if isinstance(sockname, str) else sockname.decode()


def listen(network: str, address: str) -> socket.socket:
    family, addr = split_address(network, address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(network: str, address: str, timeout: float | None = None) -> socket.socket:
    """Connect, waiting at most ``timeout`` seconds; the socket is then blocking."""
    family, addr = split_address(network, address)
    if family == socket.AF_UNIX:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(addr)
        except BaseException:
            sock.close()
            raise
    else:
        sock = socket.create_connection(addr, timeout=timeout)
    sock.settimeout(None)
    tune(sock)
    return sock


def tune(sock: socket.socket) -> None:
    """Small RPC messages must leave at once: switch Nagle's algorithm off."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
