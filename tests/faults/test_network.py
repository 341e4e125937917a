"""The connection misbehaves (docs/semantics.md#retries): a dropped connection is retried, a body cut
short or never finished ends in `network_error` once the attempts are spent, and `api.timeout` bounds
every request, even against a server that keeps sending one byte at a time. Pages already committed
stay."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from followersync.simulator import Fault, Simulator
from tests.faults.support import (
    FOLLOWERS,
    assert_in_step,
    assert_stopped_after,
    error_detail,
    make_harness,
    resume_and_check,
)
from tests.harness import Harness
from tests.sim_support import LI, linkedin_source

TIMEOUT = 0.5  # api.timeout for these tests: every fault below must end in about this much per attempt
MAX_ATTEMPTS = 3


def test_a_connection_dropped_once_is_retried_and_nothing_is_lost(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.disconnect(), account_id=LI.account_id, on_page=1)
    [result] = h.sync()
    assert result.status == "succeeded"
    run = h.runs(LI.name)[-1]
    assert (run.status, run.pages, run.requests, run.retries) == ("succeeded", 3, 4, 1)
    assert_in_step(h, sim)


CONNECTION_FAULTS = {
    "the connection closes before any answer": (Fault.disconnect(), "RemoteProtocolError"),
    "the connection closes in the middle of the body": (Fault.stall(0), "RemoteProtocolError"),
    "half the body, then silence (slow loris)": (Fault.stall(30), "ReadTimeout"),
    "no answer at all in time": (Fault.delay(30), "ReadTimeout"),
}


def test_a_connection_that_keeps_failing_ends_in_network_error(db_url: str, sim: Simulator) -> None:
    sources = [
        linkedin_source(name=f"net-{n}", account_id=f"acc_net_{n}") for n in range(len(CONNECTION_FAULTS))
    ]
    for source, (fault, _) in zip(sources, CONNECTION_FAULTS.values(), strict=True):
        sim.add_account(source.account_id, "linkedin", followers=FOLLOWERS)
        sim.inject(fault, account_id=source.account_id, on_request=2, times=-1)
    h = make_harness(db_url, sim, sources, timeout=TIMEOUT)
    try:
        started = time.monotonic()
        results = h.sync()
        # All four ran side by side; each attempt was cut short by the timeout, not by the server.
        assert time.monotonic() - started < MAX_ATTEMPTS * TIMEOUT + 5

        for source, result, (case, (_, named)) in zip(
            sources, results, CONNECTION_FAULTS.items(), strict=True
        ):
            assert (result.status, result.error_type) == ("failed", "network_error"), case
            run = h.runs(source.name)[-1]
            assert (run.status, run.error_type, run.pages) == ("failed", "network_error", 1), case
            assert (run.requests, run.retries) == (1 + MAX_ATTEMPTS, MAX_ATTEMPTS - 1), case
            assert named in error_detail(run)["detail"], case
            assert_stopped_after(h, sim, good_pages=1, source=source)

        for source in sources:
            resume_and_check(h, sim, source)
    finally:
        h.close()


class _Trickle(socketserver.BaseRequestHandler):
    """Answers any request with a 200 whose body arrives one byte every 50 ms and never ends."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
        )
        body = b'{"object": "UserFollowersList", "items": [' + b" " * 999_000
        deadline = time.monotonic() + 10
        for byte in body:
            if time.monotonic() > deadline or self.server.stopping.is_set():  # type: ignore[attr-defined]
                return
            try:
                self.request.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up, as it should
            time.sleep(0.05)


@pytest.fixture
def trickle_url() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    server.stopping = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    finally:
        server.stopping.set()  # type: ignore[attr-defined]
        server.shutdown()
        server.server_close()


def test_a_body_that_trickles_forever_is_cut_off_by_the_request_timeout(
    db_url: str, sim: Simulator, trickle_url: str
) -> None:
    h = make_harness(db_url, sim, timeout=TIMEOUT, base_url=trickle_url)
    try:
        started = time.monotonic()
        [result] = h.sync()
        elapsed = time.monotonic() - started
        assert (result.status, result.error_type) == ("failed", "network_error")
        assert elapsed < MAX_ATTEMPTS * (TIMEOUT + 1)  # each attempt ends near api.timeout, not 10 s
        run = h.runs(LI.name)[-1]
        assert (run.requests, run.retries) == (MAX_ATTEMPTS, MAX_ATTEMPTS - 1)
        assert "timeout" in error_detail(run)["detail"].lower()
        assert_stopped_after(h, sim, good_pages=0)
    finally:
        h.close()


def test_an_unreachable_api_is_a_network_error(db_url: str, sim: Simulator) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    h = make_harness(db_url, sim, base_url=f"http://127.0.0.1:{port}/api/v1")
    try:
        [result] = h.sync()
        assert (result.status, result.error_type) == ("failed", "network_error")
        assert "ConnectError" in error_detail(h.runs(LI.name)[-1])["detail"]
        assert_stopped_after(h, sim, good_pages=0)
    finally:
        h.close()
