"""Sockets: Go's address strings, listening and dialling, and the options a server sets.

Go writes addresses as ``"host:port"`` strings and networks as ``"tcp"``,
``"tcp4"``, ``"tcp6"`` or ``"unix"``; so does minirpc.  A listener takes the
kernel's largest backlog (as Go's does, from ``somaxconn``), so a burst of
clients is queued rather than made to retry; an accepted TCP connection gets
Go's keepalive (a probe after 15 s of silence, so a vanished peer is noticed)
and ``TCP_NODELAY`` (small RPC messages must leave at once).
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import Any

NETWORKS = {"tcp": socket.AF_UNSPEC, "tcp4": socket.AF_INET, "tcp6": socket.AF_INET6, "unix": socket.AF_UNIX}
KEEPALIVE_SECONDS = 15  # Go's default for accepted and dialled TCP connections


def split_address(network: str, address: str | tuple) -> tuple[int, Any]:
    """``("tcp", "127.0.0.1:80")`` -> ``(family, ("127.0.0.1", 80))``; ValueError says what is wrong."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; use tcp, tcp4, tcp6 or unix")
    family = NETWORKS[network]
    if network == "unix":
        return family, str(address)
    if isinstance(address, tuple):
        host, port = address[0], str(address[1])
    else:
        if "://" in address or "/" in address:
            raise ValueError(f"address {address!r} is not host:port (no scheme or path: e.g. 127.0.0.1:1234)")
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ValueError(f"address {address!r} is missing a port (want host:port, e.g. 127.0.0.1:1234)")
        if ":" in host and not host.startswith("["):
            raise ValueError(f"address {address!r}: an IPv6 host needs brackets, e.g. [::1]:1234")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} in address {address!r} is not a number from 0 to 65535")
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


def backlog() -> int:
    """The kernel's largest listen queue, as Go uses it (``/proc/sys/net/core/somaxconn``)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(int(f.read()), 128)
    except (OSError, ValueError):
        return max(socket.SOMAXCONN, 128)


def listen(network: str, address: str) -> socket.socket:
    family, addr = split_address(network, address)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(backlog())
    except BaseException:
        sock.close()
        raise
    return sock


class Deadline:
    """A point in time that several steps share (connect, TLS, handshake): ``left()`` seconds remain."""

    def __init__(self, timeout: float | None):
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a number of seconds above 0, got {timeout!r}")
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def left(self) -> float | None:
        """Seconds left (None: no deadline); raises TimeoutError once it has passed."""
        if self.at is None:
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"timed out after {self.timeout:g} s")
        return left

    def remaining(self) -> float | None:
        """Seconds left, 0 once it has passed (None: no deadline): for waits that try once more."""
        return None if self.at is None else max(0.0, self.at - time.monotonic())


def connect(network: str, address: str, timeout: float | Deadline | None = None) -> socket.socket:
    """Connect within ``timeout`` seconds (or a Deadline shared with later steps); the
    socket is returned blocking, with the options set."""
    deadline = timeout if isinstance(timeout, Deadline) else Deadline(timeout)
    family, addr = split_address(network, address)
    try:
        if family == socket.AF_UNIX:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(deadline.left())
                sock.connect(addr)
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection(addr, timeout=deadline.left())
    except socket.timeout:
        raise TimeoutError(f"dial {network} {address}: timed out after {deadline.timeout:g} s") from None
    sock.settimeout(None)
    tune(sock)
    return sock


def tune(sock: socket.socket) -> None:
    """TCP_NODELAY and Go's 15 s keepalive, on a TCP socket."""
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option in ("TCP_KEEPIDLE", "TCP_KEEPINTVL"):  # Linux names; macOS has TCP_KEEPALIVE
        if hasattr(socket, option):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), KEEPALIVE_SECONDS)


def wait_writable(sock: Any, timeout: float) -> bool:
    """Wait until ``sock`` can take more bytes, at most ``timeout`` seconds; False if it cannot."""
    return _wait(sock, timeout, writing=True)


def wait_readable(sock: Any, timeout: float) -> bool:
    """Wait until ``sock`` has bytes (or the peer closed), at most ``timeout`` seconds; False if not."""
    return _wait(sock, timeout, writing=False)


def _wait(sock: Any, timeout: float, writing: bool) -> bool:
    # (poll, not select: a process with thousands of sockets has descriptors past 1024)
    timeout = max(0.0, timeout)
    if hasattr(select, "poll"):
        waiter = select.poll()
        waiter.register(sock, select.POLLOUT if writing else select.POLLIN)
        return bool(waiter.poll(timeout * 1000))
    return bool(select.select([], [sock], [], timeout)[1] if writing else select.select([sock], [], [], timeout)[0])


def shutdown(sock: Any) -> None:
    """Shut both directions, so that a thread blocked reading the socket, or writing to
    a peer that does not read, wakes up (``close`` alone does not wake it on Linux).
    Safe twice, from any thread."""
    try:
        if isinstance(sock, ssl.SSLSocket):  # its own shutdown drops the TLS state first: a
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # sender racing it would write in the clear
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass  # already closed, or never connected


def close(sock: Any) -> None:
    """``shutdown``, then close.  Safe twice, from any thread."""
    shutdown(sock)
    sock.close()
