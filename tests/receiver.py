"""A webhook receiver on a real loopback socket, for the notification tests (outside us, like the API).

with Receiver() as receiver:          # answers 200 to every POST and keeps what it got
    receiver.answer(500, times=2)     # the next two POSTs get a 500
    receiver.stop(); receiver.start() # down, and back on the same port
    receiver.hang = 5.0               # wait this long before answering (a slow receiver)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """One POST as the receiver got it."""

    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


class Receiver:
    def __init__(self) -> None:
        self.got: list[Delivery] = []
        self.hang = 0.0
        self._answers: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/followers"

    def answer(self, status: int, *, times: int = 1) -> None:
        """The next `times` POSTs get `status` (then 200 again)."""
        with self._lock:
            self._answers.extend([status] * times)

    @property
    def ok(self) -> list[Delivery]:
        """The POSTs answered with a 2xx."""
        return [d for d in self.got if 200 <= d.status < 300]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver._answers.pop(0) if receiver._answers else 200
                    receiver.got.append(Delivery(dict(self.headers.items()), body, status))
                if receiver.hang:
                    time.sleep(receiver.hang)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"receiver says no")

            def log_message(self, *_: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until `start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
