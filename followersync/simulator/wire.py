"""HTTP on the wire: the threading server, the lean request reader, the raw response bytes.

Only the socket side lives here. What a request gets is decided by the `Answer` the server is given
(the simulator's); this module knows nothing of the simulator, only requests, connections and
responses.
"""

from __future__ import annotations

import contextlib
import http.server
import selectors
import socket
import socketserver
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, Protocol


def status_phrase(status: int) -> str:
    """The reason phrase of `status` ("Error" for one HTTP does not define): the status line's, and
    the title of an error envelope of a type the catalogue (errors.py) does not know."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass
class Response:
    """One answer as it goes on the wire, or what to do instead of answering (`action`)."""

    status: int
    body: bytes
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    action: Literal["send", "disconnect", "stall"] = "send"
    stall_seconds: float = 0.0

    def encode(self) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {status_phrase(self.status)}"]
        if self.content_type is not None:
            lines.append(f"Content-Type: {self.content_type}")
        lines.append(f"Content-Length: {len(self.body)}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class Request:
    """One request as read off the wire: its method, its target (path and query) and its headers
    (names in lower case)."""

    method: str
    target: str
    headers: dict[str, str]


class Connection(Protocol):
    """What an answer may do with the connection its request came on while it prepares the response."""

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`; False as soon as the client hangs up or the server stops."""
        ...


# What the server is given to answer with: the response to send for one request (None: the client
# hung up or the server is stopping, there is nobody to answer). Called in the connection's thread.
Answer = Callable[[Request, Connection], Response | None]

_MAX_LINE = 65536
_MAX_HEADERS = 100


class Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that answers with `answer` and can close its keep-alive connections."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        family: int,
        *,
        answer: Answer,
        errors: list[BaseException],
        stopping: threading.Event,
    ) -> None:
        """`errors` receives every exception a connection raises other than a client gone away;
        `stopping`, once set, ends every wait (latency, stalls) at once."""
        self.address_family = family
        self.answer = answer
        self.errors = errors
        self.stopping = stopping
        self.connections: dict[socket.socket, threading.Thread] = {}
        self.connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-response is normal here; anything else is a simulator bug."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or exc is None:
            return
        self.errors.append(exc)
        traceback.print_exc(file=sys.stderr)

    def server_bind(self) -> None:
        # HTTPServer.server_bind also calls socket.getfqdn(), a DNS lookup that can take seconds on
        # a machine without DNS; nothing here needs the server's name.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])


class Handler(http.server.BaseHTTPRequestHandler):
    """One connection: requests are read with a lean parser (see handle_one_request), answered by the
    server's `answer` and the response sent as it says."""

    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle: otherwise a small response waits for a delayed ACK.
    disable_nagle_algorithm = True
    timeout = 300  # an idle keep-alive connection is dropped after this long
    server: Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections[self.request] = threading.current_thread()

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.pop(self.request, None)
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        # BaseHTTPRequestHandler.parse_request runs the email package's header parser, which costs
        # more than building a cached page; this reads the request line and headers directly.
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                self.close_connection = True
                return
            if line in (b"\r\n", b"\n"):  # tolerated between keep-alive requests (RFC 9112 2.2)
                self.close_connection = False
                return
            parts = line.decode("latin-1").split()
            if len(line) > _MAX_LINE or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self._send_bare(400)
                return
            method, target, version = parts
            headers: dict[str, str] = {}
            for _ in range(_MAX_HEADERS + 1):
                raw = self.rfile.readline(_MAX_LINE + 1)
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, sep, value = raw.decode("latin-1").partition(":")
                if not sep or len(raw) > _MAX_LINE:
                    self._send_bare(400)
                    return
                headers[name.strip().lower()] = value.strip()
            else:
                self._send_bare(431)
                return
            connection = headers.get("connection", "").lower()
            self.close_connection = "close" in connection or (
                version == "HTTP/1.0" and "keep-alive" not in connection
            )
            if "transfer-encoding" in headers:
                self.close_connection = True  # no GET has a chunked body; don't try to resync
            elif headers.get("content-length", "0") != "0":
                length = headers["content-length"]
                if not length.isdigit() or int(length) > 1_000_000:
                    self._send_bare(400)
                    return
                self.rfile.read(int(length))
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        self.send(self.server.answer(Request(method, target, headers), self))

    def send(self, response: Response | None) -> None:
        """Send `response` as its action says: whole, cut short after half its body and a stall, or
        not at all (None or a disconnect: the connection is closed)."""
        if response is None or response.action == "disconnect":
            self.close_connection = True
            return
        data = response.encode()
        if response.action == "stall":
            self.close_connection = True
            cut = len(data) - max(1, len(response.body) // 2)
            if self.write(data[:cut]):
                self.wait(response.stall_seconds)
            return
        self.write(data)

    def _send_bare(self, status: int) -> None:
        self.close_connection = True
        self.write(Response(status, b"", content_type=None, headers=(("Connection", "close"),)).encode())

    def write(self, data: bytes) -> bool:
        """Send `data`; False (and the connection closed) if the client has gone."""
        try:
            self.wfile.write(data)
            return True
        except OSError:
            self.close_connection = True
            return False

    def wait(self, seconds: float) -> bool:
        """Sleep `seconds`, watching the socket: False as soon as the client hangs up or the server
        stops. So a client that times out and retries never overlaps a request still sleeping here,
        and in-flight counts stay true."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            watch = True
            while True:
                remaining = deadline - time.monotonic()
                if self.server.stopping.is_set():
                    return False
                if remaining <= 0:
                    return True
                step = min(remaining, 0.05)  # short steps so stop() is noticed promptly
                if not watch:
                    time.sleep(step)
                    continue
                try:
                    readable = bool(selector.select(step))
                    if readable and not self.connection.recv(1, socket.MSG_PEEK):
                        return False  # orderly close from the client
                except OSError:
                    return False
                if readable:
                    watch = False  # pipelined bytes, not a close: a close can't be told apart now

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a log line per request would cost more than the request."""
