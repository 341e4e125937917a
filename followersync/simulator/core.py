"""The simulator: a fake postpress API in a background thread, its life cycle and what it observed of
its requests.

Its other controls are its base classes: the accounts and their followers (accounts.py), faults,
latency, the clock and the real service's quirks (behaviour.py). How a request is answered lives in
answering.py and pages.py, the socket side in wire.py, and what all of them share in state.py.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from types import TracebackType

from followersync.simulator.accounts import AccountControls
from followersync.simulator.answering import answer
from followersync.simulator.behaviour import BehaviourControls
from followersync.simulator.errors import DEFAULT_API_KEY, SimulatorError
from followersync.simulator.faults import Departure
from followersync.simulator.records import RequestRecord
from followersync.simulator.state import SimulatorState
from followersync.simulator.wire import Server


class Simulator(AccountControls, BehaviourControls):
    """A fake postpress API in a background thread, plus the controls tests need.

    Start it with `start()` or a `with` block; `base_url` is then `http://127.0.0.1:PORT/api/v1`
    (the server also answers `/v1/users/followers`). All methods are thread-safe; request handling
    for different accounts (and for the same one) runs in parallel, one thread per connection.

    `clock` (seconds, default `time.monotonic`) times the cache's ages and the request limit's
    windows, so a test can move time on by hand (e.g. `clock=lambda: fake.now().timestamp()`);
    `set_clock` changes it later. Latency, delays and `RequestRecord.started` stay on the real clock.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        latency: float = 0.0,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._state = SimulatorState(api_key, seed=seed, latency=latency, clock=clock)
        self._host = host
        self._port = port
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, in arrival order (status filled in once answered)."""
        return self._state.requests

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised while answering (by the simulator or an on_request callback)."""
        return self._state.errors

    @property
    def departures(self) -> list[Departure]:
        """Every `Fault.departure` that took effect, in order."""
        return self._state.departures

    def __repr__(self) -> str:
        # Never the key: reprs end up in logs and test reports.
        where = self.base_url if self._server else "not started"
        return f"<Simulator {where} accounts={sorted(self._state.providers)}>"

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Bind and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._state.stopping.clear()
        self._server = Server(
            (self._host, self._port),
            family,
            answer=partial(answer, self._state),
            errors=self._state.errors,
            stopping=self._state.stopping,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"postpress-simulator:{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; idempotent. Sleeping handlers return at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._state.stopping.set()
        server.shutdown()
        server.server_close()
        with server.connections_lock:
            connections = dict(server.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading its next request
        # Handler threads are daemons, so a callback stuck in a test cannot hang the interpreter;
        # the join only makes a normal stop leave no thread behind.
        deadline = time.monotonic() + 2
        for handler_thread in [*connections.values(), thread]:
            if handler_thread is not None and handler_thread is not threading.current_thread():
                handler_thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc is None and self.errors:
            # A failing callback must fail the test, not just print a traceback nobody reads.
            raise SimulatorError(f"{len(self.errors)} error(s) while answering requests") from self.errors[0]

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT/api/v1`: the client calls `{base_url}/users/followers`."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        host = self._host
        if host in ("", "0.0.0.0"):  # noqa: S104 - only naming the wildcard to replace it
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.server_port}/api/v1"

    @property
    def port(self) -> int:
        """The bound port (useful with port=0)."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server.server_port

    # -- records ------------------------------------------------------------------------------------

    def requests_for(self, account_id: str) -> list[RequestRecord]:
        """The recorded requests of one account, in arrival order."""
        with self._state.lock:
            return [r for r in self._state.requests if r.account_id == account_id]

    def max_in_flight(self, account_id: str) -> int:
        """The most requests ever in flight at once for `account_id` (0 if none arrived)."""
        return max((r.in_flight for r in self.requests_for(account_id)), default=0)

    def in_flight(self, account_id: str) -> int:
        """How many requests of `account_id` are being handled right now."""
        with self._state.lock:
            return self._state.in_flight.get(account_id, 0)

    def clear_requests(self) -> None:
        """Forget the recorded requests (sequence numbers keep counting)."""
        with self._state.lock:
            self._state.requests.clear()
