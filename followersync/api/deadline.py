"""A deadline for a whole HTTP request: each network operation gets at most the time left of it.

httpx's timeouts bound each operation (a connect, a write, a read), not the request: a server that
answers just before the read timeout and then stalls holds a request for twice the timeout, and one
that sends a byte now and then, forever. So the network streams of the client's connection pools
shorten every operation's timeout to what is left of the deadline the calling thread set (`within`),
and end the operation at once when none is left. The deadline is wall-clock time on purpose, like the
network it bounds.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

__all__ = ["install", "within"]

# Per thread (each has its own context): the client is shared by the threads of a run.
_deadline: ContextVar[tuple[float, float] | None] = ContextVar("request_deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Network operations made in this thread inside the block end `seconds` from now at the latest,
    by raising the httpx timeout of the operation (e.g. `httpx.ReadTimeout`)."""
    token = _deadline.set((time.monotonic() + seconds, seconds))
    try:
        yield
    finally:
        _deadline.reset(token)


def install(client: httpx.Client) -> None:
    """Make every connection pool of `client`, those for proxies from the environment included, keep
    the deadline of `within`. Call before the first request: a connection keeps the backend it was
    made with."""
    # httpx has no public way to give a transport a network backend (encode/httpx#3749), and a
    # transport of our own would lose the proxies httpx reads from the environment; httpcore's
    # network backends themselves are public API.
    for transport in [client._transport, *client._mounts.values()]:
        if isinstance(transport, httpx.HTTPTransport):
            pool = transport._pool
            pool._network_backend = _Backend(pool._network_backend)


def _time_left(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """`timeout`, shortened to what is left of the deadline; raises `late` when nothing is."""
    current = _deadline.get()
    if current is None:
        return timeout
    deadline, seconds = current
    left = deadline - time.monotonic()
    if left <= 0:
        raise late(f"the request took longer than api.timeout ({seconds:g}s)")
    return left if timeout is None else min(timeout, left)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
