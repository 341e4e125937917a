"""What the simulator records of each request, its life cycle and speed, the standalone server
(`followersync simulate`) and the package's public names."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import msgspec
import pytest
from click.testing import CliRunner

from followersync.cli.simulate_command import simulate_command
from followersync.simulator import (
    Fault,
    RequestRecord,
    Simulator,
    SimulatorError,
)
from tests.simulator.support import (
    KEY,
    assert_envelope,
    fetch_pass,
    get,
    wait_until,
)

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket


# -- request records ------------------------------------------------------------------------------


def test_records_count_per_account_and_in_flight(sim: Simulator, client: httpx.Client) -> None:
    fetch_pass(client, "acc_ig", limit=200)
    fetch_pass(client, "acc_li")
    assert [r.account_seq for r in sim.requests_for("acc_ig")] == [1, 2, 3]
    assert [r.seq for r in sim.requests] == [1, 2, 3, 4, 5, 6]
    assert [r.page for r in sim.requests_for("acc_li")] == [0, 1, 2]
    assert sim.max_in_flight("acc_ig") == sim.max_in_flight("acc_li") == 1
    assert sim.max_in_flight("acc_never") == 0
    assert all(r.path == "/api/v1/users/followers" and r.key_ok for r in sim.requests)

    # Four requests at once for one account: all four are in flight together.
    sim.clear_requests()
    inside = threading.Barrier(4, timeout=5)
    sim.on_request(lambda record: inside.wait())
    threads = [
        threading.Thread(target=get, args=(client,), kwargs={"account_id": "acc_li"}) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.max_in_flight("acc_li") == 4
    assert sorted(r.in_flight for r in sim.requests) == [1, 2, 3, 4]
    assert sim.requests[0].seq == 7  # sequence numbers keep counting after clear_requests


def test_accounts_are_served_in_parallel(sim: Simulator, client: httpx.Client) -> None:
    """A slow request of one account does not hold up another's: both are inside at once."""
    both_inside = threading.Barrier(2, timeout=5)
    sim.on_request(lambda record: both_inside.wait())
    results: dict[str, int] = {}

    def one(account_id: str) -> None:
        results[account_id] = get(client, account_id=account_id).status_code

    threads = [threading.Thread(target=one, args=(a,)) for a in ("acc_ig", "acc_li")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"acc_ig": 200, "acc_li": 200}
    assert sim.max_in_flight("acc_ig") == sim.max_in_flight("acc_li") == 1


def test_a_failing_callback_fails_the_test_loudly() -> None:
    def broken(record: RequestRecord) -> None:
        raise RuntimeError("bug in the test's churn")

    with pytest.raises(SimulatorError), Simulator(api_key=KEY) as simulator:
        simulator.add_account("acc", "instagram", followers=3)
        simulator.on_request(broken)
        response = httpx.get(
            f"{simulator.base_url}/users/followers", params={"account_id": "acc"}, headers={"X-API-KEY": KEY}
        )
        assert_envelope(response, 500, "errors/unexpected_error")


def test_latency_delays_every_response(sim: Simulator, client: httpx.Client) -> None:
    sim.set_latency(5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/users/followers", params={"account_id": "acc_li"}, timeout=0.1)
    wait_until(lambda: sim.in_flight("acc_li") == 0)
    sim.set_latency(0.01)
    assert get(client, account_id="acc_li").status_code == 200


def test_plain_http_details(sim: Simulator) -> None:
    """Malformed requests get a bare 400; `Connection: close` is honoured; keep-alive is the default."""
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    request = (
        f"GET /v1/users/followers?account_id=acc_li&limit=1 HTTP/1.1\r\nHost: x\r\nX-API-KEY: {KEY}\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(request + b"\r\n" + request + b"Connection: close\r\n\r\n")  # pipelined
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK\r\n") == 2  # both answered, then the server closed


# -- life cycle and speed ---------------------------------------------------------------------------


def test_stop_closes_idle_and_stalled_connections() -> None:
    before = threading.active_count()
    simulator = Simulator(api_key=KEY).start()
    simulator.add_account("acc", "linkedin", followers=10)
    simulator.inject(Fault.stall(60))
    url = f"{simulator.base_url}/users/followers"
    idle = httpx.Client(headers={"X-API-KEY": KEY})
    stalled = httpx.Client(headers={"X-API-KEY": KEY})
    try:
        with stalled.stream("GET", url, params={"account_id": "acc"}) as response:
            assert idle.get(url, params={"account_id": "acc"}).status_code == 200  # kept alive
            simulator.stop()
            with pytest.raises(httpx.RemoteProtocolError):
                response.read()
        with pytest.raises(httpx.TransportError):
            idle.get(url, params={"account_id": "acc"})
    finally:
        idle.close()
        stalled.close()
    simulator.stop()  # idempotent
    for _ in range(100):
        if threading.active_count() <= before:
            break
        time.sleep(0.02)
    assert threading.active_count() <= before


def test_speed_of_sequential_keep_alive_pages() -> None:
    """Not an assertion on time: prints pages/s so a slowdown is visible in `pytest -s`."""
    with Simulator(api_key=KEY) as simulator:
        simulator.add_account("acc_ig", "instagram", followers=20_000)
        with httpx.Client(base_url=simulator.base_url, headers={"X-API-KEY": KEY}) as http:
            fetch_pass(http, "acc_ig", limit=200)  # warm the page cache
            started = time.perf_counter()
            pages = fetch_pass(http, "acc_ig", limit=200)
            elapsed = time.perf_counter() - started
    assert len(pages) == 100
    print(f"\nsimulator: {len(pages) / elapsed:.0f} pages/s (200-item Instagram pages, keep-alive)")


# -- the standalone server ---------------------------------------------------------------------------


def test_simulate_command_help_shows_an_example_and_no_key() -> None:
    result = CliRunner().invoke(simulate_command, ["--help"], env={"POSTPRESS_API_KEY": "secret-123"})
    assert result.exit_code == 0
    assert "--churn" in result.output and "Example" in result.output
    assert "secret-123" not in result.output


def test_followersync_simulate_is_the_simulate_command_imported_only_when_used() -> None:
    from followersync.cli import cli

    through_cli = CliRunner().invoke(cli, ["simulate", "--help"], prog_name="followersync")
    # The command on its own, in the context the group gives its subcommands (-h, the width).
    direct = CliRunner().invoke(
        simulate_command, ["--help"], prog_name="followersync simulate", **cli.context_settings
    )
    assert through_cli.exit_code == 0 and through_cli.output == direct.output
    assert through_cli.output.startswith("Usage: followersync simulate [OPTIONS]")
    listed = CliRunner().invoke(cli, ["--help"], prog_name="followersync").output
    assert "simulate  Serve a realistic fake postpress API" in listed
    # A fresh interpreter: this one has long imported the simulator. `sync` and `worker` must not pay
    # for http.server and the simulator just because the CLI also offers `simulate`.
    code = "import followersync.cli, sys; assert 'http.server' not in sys.modules, 'http.server imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_simulate_serves_until_sigterm_without_printing_the_key() -> None:
    env = {**os.environ, "POSTPRESS_API_KEY": "secret-456"}
    args = ["--port", "0", "--instagram-accounts", "2", "--followers", "30", "--churn", "50"]
    process = subprocess.Popen(
        [sys.executable, "-m", "followersync", "simulate", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = re.search(r"(http://\S+/api/v1)", first)
        assert base_url, first
        lines = [process.stdout.readline() for _ in range(6)]
        assert any("acc_linkedin_01" in line for line in lines)
        assert any("acc_ig_02" in line for line in lines)
        response = httpx.get(
            f"{base_url.group(1)}/users/followers",
            params={"account_id": "acc_ig_02"},
            headers={"X-API-KEY": "secret-456"},
        )
        assert response.status_code == 200 and 15 <= len(response.json()["items"]) <= 45  # churning
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert "secret-456" not in first + "".join(lines) + rest


@pytest.mark.parametrize("key_in_env", [None, "secret-789"])
def test_the_start_up_hints_curl_works_as_printed(key_in_env: str | None) -> None:
    """With the built-in key, $POSTPRESS_API_KEY is unset: the hint names the default key itself.
    With a key from the environment, the hint names the variable, never the key."""
    env = {k: v for k, v in os.environ.items() if k != "POSTPRESS_API_KEY"}
    if key_in_env is not None:
        env["POSTPRESS_API_KEY"] = key_in_env
    process = subprocess.Popen(
        [sys.executable, "-m", "followersync", "simulate", "--port", "0", "--followers", "5"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(8)]
        [hint] = [line for line in lines if line.startswith("try: curl ")]
        assert key_in_env is None or key_in_env not in hint
        # The printed command, run by a shell with the same environment, as the user would.
        done = subprocess.run(
            hint.removeprefix("try: ").strip() + " --silent --show-error --write-out ' %{http_code}'",
            shell=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    body, code = done.stdout.rsplit(" ", 1)
    assert code == "200", done.stdout + done.stderr
    assert len(json.loads(body)["items"]) == 2


def test_record_is_plain_data() -> None:
    encoded = msgspec.json.encode(
        RequestRecord(1, 1, "/v1/users/followers", "a", None, None, None, True, False, 1, 0.0, 200)
    )
    assert b'"status":200' in encoded


# -- the package's public names ---------------------------------------------------------------------


def test_the_public_names_stay_importable_from_the_package() -> None:
    # The simulator is a package of modules; tests, the demo, the CLI and the benchmark import these
    # from `followersync.simulator` itself, so none may move out of it unnoticed.
    import followersync.simulator as package

    expected = [
        "DEFAULT_API_KEY",
        "DOCUMENTED_ERRORS",
        "PROVIDER_MAX_LIMIT",
        "Departure",
        "Fault",
        "RequestRecord",
        "Simulator",
        "SimulatorError",
        "decode_cursor",
        "encode_cursor",
        "serve",
    ]
    assert package.__all__ == expected
    for name in expected:
        exec(f"from followersync.simulator import {name}", {})
