"""Notifications through the real command line: `notify test`, bad hooks, secrets kept, and a process
killed at the worst moments losing nothing (README, "Notifications")."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from followersync.simulator import Simulator
from tests.harness import query, run_cli, start_cli, wait_for_leases_to_expire, wait_until, write_config
from tests.receiver import Receiver
from tests.sim_support import LI, MakeSim

pytestmark = pytest.mark.cli_in_process


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=11, accounts={LI: 300})


def hook_table(**keys: object) -> str:
    lines = ["[[notify]]"] + [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def failing_command(tmp_path: Path, code: int) -> list[str]:
    script = tmp_path / f"exit_{code}.py"
    script.write_text(
        f"import sys\nsys.stdin.read()\nprint('no room left', file=sys.stderr)\nsys.exit({code})\n"
    )
    return [sys.executable, str(script)]


def test_notify_test_sends_each_hook_a_signed_test_payload(
    tmp_path: Path, sqlite_url: str, sim: Simulator, receiver: Receiver
) -> None:
    hooks = hook_table(name="chat", url=receiver.url, secret_env="FS_HOOK_SECRET") + hook_table(
        name="crm", command=failing_command(tmp_path, 4)
    )
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [LI], hooks)
    done = run_cli(["notify", "test"], config=config, FS_HOOK_SECRET="shh")
    assert done.returncode == 1, done.stderr  # one hook failed
    assert done.stdout.splitlines() == [
        f"chat  http://127.0.0.1:{receiver.port}/...  ok: HTTP 200",
        f"crm   {sys.executable}  FAILED: exit 4: no room left",
    ]
    (delivery,) = receiver.got
    payload = delivery.payload
    assert payload["events"] == [{"event": "test"}]
    assert payload["source"] is None and payload["run_id"] is None
    assert delivery.headers["X-Followersync-Delivery"] == payload["id"]
    signed = hmac.new(b"shh", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Followersync-Signature"] == f"sha256={signed}"
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # nothing written, not even a database

    only = run_cli(["notify", "test", "--name", "chat"], config=config, FS_HOOK_SECRET="shh")
    assert only.returncode == 0 and only.stdout.startswith("chat ")
    assert len(receiver.got) == 2


@pytest.mark.parametrize(
    ("hooks", "args", "expected"),
    [
        ("", ["notify", "test"], "Error: notify: no hooks configured; add a [[notify]] table"),
        (
            hook_table(name="a", url="http://127.0.0.1:9/x"),
            ["notify", "test", "--name", "b"],
            'Error: no hook named "b"',
        ),
        (
            hook_table(name="a", url="http://127.0.0.1:9/x", secret_env="FS_UNSET_SECRET"),
            ["sync"],
            "Error: notify[1].secret_env: the environment variable FS_UNSET_SECRET is not set",
        ),
        (
            hook_table(name="a", url="http://127.0.0.1:9/x", secret_env="FS_UNSET_SECRET"),
            ["worker", "--once"],
            "Error: notify[1].secret_env: the environment variable FS_UNSET_SECRET is not set",
        ),
        (
            hook_table(name="a", url="http://127.0.0.1:9/x", events=["unfollows"]),
            ["sync"],
            "Error: notify[1].events: unknown",
        ),
    ],
)
def test_hook_mistakes_stop_the_command_before_any_request(
    tmp_path: Path, sqlite_url: str, sim: Simulator, hooks: str, args: list[str], expected: str
) -> None:
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [LI], hooks)
    done = run_cli(args, config=config)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(expected), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert sim.requests_for(LI.account_id) == []


def test_credentials_in_a_hook_url_never_leave_the_configuration(
    tmp_path: Path, db_url: str, sim: Simulator, receiver: Receiver
) -> None:
    url = receiver.url.replace("http://", "http://alice:pa55word@") + "/t0ken-path"
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI], hook_table(name="chat", url=url))
    assert run_cli(["sync"], config=config).returncode == 0
    sim.follow(LI.account_id, 2)
    receiver.answer(500)
    synced = run_cli(["sync"], config=config)
    assert synced.returncode == 0, synced.stderr
    assert receiver.got[0].headers["Authorization"].startswith("Basic ")  # the credentials were used
    status = run_cli(["status", "--format", "json"], config=config)
    (state,) = json.loads(status.stdout)
    assert state["notifications_pending"] == 1
    tested = run_cli(["notify", "test"], config=config)
    stored = " ".join(str(row) for row in query(db_url, "SELECT * FROM notification_outbox"))
    assert "notify.failed" in synced.stderr and "HTTP 500" in stored
    for text in (
        synced.stdout,
        synced.stderr,
        status.stdout,
        status.stderr,
        tested.stdout,
        tested.stderr,
        stored,
    ):
        for secret in ("alice", "pa55word", "t0ken"):
            assert secret not in text


def test_a_sync_killed_mid_pass_loses_no_notification(
    tmp_path: Path, db_url: str, sim: Simulator, receiver: Receiver
) -> None:
    extra = '[sync]\nlease_ttl = "0.3s"\n' + hook_table(url=receiver.url)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI], extra)
    assert run_cli(["sync"], config=config).returncode == 0  # the baseline: nothing to tell
    new = sim.follow(LI.account_id, 500)
    sim.set_latency(0.05)
    proc = start_cli(["sync", "--mode", "full"], config=config)
    try:
        wait_until(db_url, "SELECT 1 FROM sync_runs WHERE status = 'running' AND followers_new >= 200")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert receiver.got == []
    sim.set_latency(0)
    wait_for_leases_to_expire(db_url)  # the killed process's lease runs out
    done = run_cli(["sync", "--mode", "full"], config=config)
    assert done.returncode == 0, done.stderr
    told = [e["follower_id"] for d in receiver.ok for e in d.payload["events"]]
    assert sorted(told) == sorted(new)  # every one, once: the dead run's and the resumed run's
    runs = query(db_url, "SELECT status FROM sync_runs ORDER BY id")
    assert [r.status for r in runs][-2:] == ["abandoned", "succeeded"]


def test_a_sync_killed_while_delivering_sends_the_same_payload_again(
    tmp_path: Path, db_url: str, sim: Simulator, receiver: Receiver
) -> None:
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI], hook_table(url=receiver.url))
    assert run_cli(["sync"], config=config).returncode == 0
    sim.follow(LI.account_id, 3)
    receiver.hang = 30.0  # it takes the payload and never answers in time
    proc = start_cli(["sync"], config=config)
    try:
        deadline = time.monotonic() + 60
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    receiver.hang = 0.0
    (first,) = receiver.got
    # The claim of the dead process holds the payload for its timeout and a margin; then anyone sends it.
    with_past_claim = "UPDATE notification_outbox SET next_attempt_at = created_at"
    query_write(db_url, with_past_claim)
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    assert [d.body for d in receiver.got] == [first.body, first.body]  # the very same payload
    assert [
        r.delivered_at is not None for r in query(db_url, "SELECT delivered_at FROM notification_outbox")
    ] == [True]


def query_write(db_url: str, sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def test_worker_once_delivers_after_its_runs(
    tmp_path: Path, sqlite_url: str, sim: Simulator, receiver: Receiver
) -> None:
    config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [LI], hook_table(url=receiver.url))
    assert run_cli(["worker", "--once"], config=config).returncode == 0
    new = sim.follow(LI.account_id, 2)
    query_write(sqlite_url, "UPDATE sync_runs SET finished_at = '2000-01-01 00:00:00.000000'")  # due again
    done = run_cli(["worker", "--once"], config=config)
    assert done.returncode == 0, done.stderr
    assert sorted(e["follower_id"] for d in receiver.ok for e in d.payload["events"]) == sorted(new)


def readme_receiver() -> str:
    """The receiver the README's "Notifications" shows, as printed there."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notifications", 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    (code,) = blocks
    return code


def test_the_readme_receiver_verifies_what_followersync_sends(
    tmp_path: Path, sqlite_url: str, sim: Simulator
) -> None:
    import socket
    import subprocess

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = readme_receiver()
    assert '("127.0.0.1", 8765)' in code
    script = tmp_path / "receiver.py"
    script.write_text(code.replace("8765", str(port)))
    env = {"FOLLOWERSYNC_HOOK_SECRET": "the shared secret", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        hooks = hook_table(name="crm", url=f"http://127.0.0.1:{port}/", secret_env="FOLLOWERSYNC_HOOK_SECRET")
        config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [LI], hooks)
        for _ in range(100):  # until it listens
            if (
                run_cli(
                    ["notify", "test"], config=config, FOLLOWERSYNC_HOOK_SECRET="the shared secret"
                ).returncode
                == 0
            ):
                break
            time.sleep(0.1)
        good = run_cli(["notify", "test"], config=config, FOLLOWERSYNC_HOOK_SECRET="the shared secret")
        assert good.returncode == 0 and good.stdout.endswith("ok: HTTP 204\n"), good.stdout
        forged = run_cli(["notify", "test"], config=config, FOLLOWERSYNC_HOOK_SECRET="a guess")
        assert forged.returncode == 1 and "FAILED: HTTP 401" in forged.stdout, forged.stdout
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert "test notification from followersync" in out
