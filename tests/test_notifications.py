"""Notifications (README, "Notifications"): what arrives, when, signed, and never lost.

A real HTTP receiver on loopback (`tests/receiver.py`) and real commands; the API is the simulator and
the clock the harness's FakeClock, so backoff and the day of retries pass without waiting.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from followersync import reports, status
from followersync.config import HookConfig
from followersync.notify.payloads import MAX_EVENTS
from followersync.simulator import Fault
from followersync.sync.fleet import Fleet
from tests.harness import Harness, source_states
from tests.receiver import Receiver
from tests.sim_support import IG, LI, MakeSim


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def hook(url: str | None = None, **options: Any) -> HookConfig:
    return HookConfig(name=options.pop("name", "test-hook"), number=1, url=url, **options)


def with_hooks(h: Harness, *hooks: HookConfig) -> Harness:
    h.settings = dataclasses.replace(h.settings, notify=hooks)
    return h


def deliver(h: Harness) -> None:
    Fleet(h.runner, h.settings).deliver_notifications()


def events_of(receiver: Receiver, event: str) -> list[dict[str, Any]]:
    return [e for d in receiver.ok for e in d.payload["events"] if e["event"] == event]


def outbox(h: Harness) -> list[Any]:
    return h.query("SELECT * FROM notification_outbox ORDER BY seq")


@pytest.fixture
def h(db_url: str, make_sim: MakeSim) -> Iterator[Harness]:
    sim = make_sim(seed=3, accounts={LI: 40})
    harness = Harness(db_url, sim, [LI])
    yield harness
    harness.close()


def test_follows_and_confirmed_unfollows_arrive_and_the_baseline_never(
    h: Harness, receiver: Receiver
) -> None:
    with_hooks(h, hook(receiver.url))
    h.sync()
    deliver(h)
    assert receiver.got == []  # 40 followers recorded: the baseline is not news

    new = h.sim.follow(LI.account_id, 3)
    h.sync()
    deliver(h)
    (delivery,) = receiver.got
    payload = delivery.payload
    assert set(payload) == {"id", "source", "run_id", "created_at", "events", "text"}
    assert delivery.headers["X-Followersync-Delivery"] == payload["id"]
    assert delivery.headers["Content-Type"] == "application/json"
    assert payload["source"] == LI.name and payload["run_id"] == h.runs(LI.name)[-1].id
    assert sorted(e["follower_id"] for e in payload["events"]) == sorted(new)
    names = {f["id"]: f["name"] for f in h.sim.followers(LI.account_id)}
    for event in payload["events"]:
        assert event["event"] == "follow"
        assert event["name"] == names[event["follower_id"]]
        assert event["handle"].startswith("https://www.linkedin.com/in/")
        assert datetime.fromisoformat(event["occurred_at"]).utcoffset() is not None
    assert payload["text"].startswith(f"{LI.name}: 3 new followers: ")

    gone = new[0]
    h.sim.unfollow(LI.account_id, [gone])
    h.sync("full")
    deliver(h)
    assert len(receiver.got) == 1  # missed once is not an unfollow: nothing to tell
    h.advance(hours=2)
    h.sync("full")
    deliver(h)
    assert len(receiver.got) == 2
    (unfollow,) = receiver.got[-1].payload["events"]
    missing_since = h.query("SELECT unfollowed_at FROM v_followers WHERE follower_id = :f", f=gone)[0][0]
    assert (unfollow["event"], unfollow["follower_id"], unfollow["name"]) == ("unfollow", gone, names[gone])
    assert datetime.fromisoformat(unfollow["occurred_at"]) == reports.as_utc(missing_since)
    assert receiver.got[-1].payload["text"] == f"{LI.name}: 1 unfollowed: {names[gone]}"


def test_each_hook_gets_only_the_events_and_sources_it_asked_for(
    db_url: str, make_sim: MakeSim, receiver: Receiver
) -> None:
    sim = make_sim(seed=4, accounts={LI: 20, IG: 20})
    h = Harness(db_url, sim, [LI, IG])
    with Receiver() as other:
        with_hooks(
            h,
            hook(receiver.url, name="unfollows-only", events=("unfollow",)),
            hook(other.url, name="ig-only", sources=(IG.name,)),
        )
        h.sync()
        sim.follow(LI.account_id, 2)
        sim.follow(IG.account_id, 1)
        h.sync()
        deliver(h)
        assert receiver.got == []
        assert [d.payload["source"] for d in other.got] == [IG.name]
    h.close()


def test_the_signature_is_the_hmac_of_the_body(
    h: Harness, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FS_TEST_SECRET", "it's a secret")
    with_hooks(h, hook(receiver.url, secret_env="FS_TEST_SECRET"))
    h.sync()
    h.sim.follow(LI.account_id, 1)
    h.sync()
    deliver(h)
    (delivery,) = receiver.got
    expected = hmac.new(b"it's a secret", delivery.body, hashlib.sha256).hexdigest()
    assert delivery.headers["X-Followersync-Signature"] == f"sha256={expected}"
    assert all("it's a secret" not in str(row) for row in outbox(h))


def test_a_failing_receiver_gets_every_payload_as_first_written(h: Harness, receiver: Receiver) -> None:
    with_hooks(h, hook(receiver.url, backoff=30.0))
    h.sync()
    first = h.sim.follow(LI.account_id, 2)
    h.sync()
    second = h.sim.follow(LI.account_id, 1)
    h.sync()  # two runs: two payloads waiting
    receiver.answer(500)
    deliver(h)
    assert [d.status for d in receiver.got] == [500]  # the hook failed: its next payload waits too
    (state,) = reports_status(h)
    assert state.notifications_pending == 2
    stored = {row.id: row.body for row in outbox(h)}

    h.advance(seconds=10)
    deliver(h)
    assert len(receiver.got) == 1  # before the backoff has passed, nothing is tried
    receiver.stop()
    h.advance(seconds=25)
    deliver(h)  # down: a connection error, counted as a failure; the next wait is twice as long
    row = outbox(h)[0]
    assert row.attempts == 2 and row.last_error == "request failed (ConnectError)"
    receiver.start()
    h.advance(seconds=30)
    deliver(h)
    assert len(receiver.got) == 1  # 30 s is not yet the doubled backoff (60 s)
    h.advance(seconds=31)
    deliver(h)

    assert [d.status for d in receiver.got] == [500, 200, 200]
    ids = [d.payload["id"] for d in receiver.got]
    assert ids[0] == ids[1] and ids[1] != ids[2] and set(ids) == set(stored)
    for delivery in receiver.got:  # byte for byte what was written, every time
        assert delivery.body.decode() == stored[delivery.payload["id"]]
    assert sorted(e["follower_id"] for e in events_of(receiver, "follow")) == sorted(first + second)
    (state,) = reports_status(h)
    assert state.notifications_pending == 0 and status.attention(state) is None


def reports_status(h: Harness) -> list[status.SourceStatus]:
    return source_states(h.engine, [h.ids[LI.name]], h.clock.now())


def test_a_payload_is_given_up_after_a_day_and_status_says_so(h: Harness, receiver: Receiver) -> None:
    with_hooks(h, hook(receiver.url, name="crm", backoff=30.0))
    h.sync()
    h.sim.follow(LI.account_id, 1)
    h.sync()
    receiver.answer(503, times=1000)
    waits = []
    for _ in range(40):
        deliver(h)
        row = outbox(h)[0]
        if row.given_up_at is not None:
            break
        waits.append((reports.as_utc(row.next_attempt_at) - h.clock.now()).total_seconds())
        h.advance(seconds=waits[-1] + 1)
    assert waits[:4] == [30, 60, 120, 240] and max(waits) == 3600  # doubling, at most an hour
    assert row.given_up_at is not None and row.last_error.startswith("HTTP 503: receiver says no")
    attempts = len(receiver.got)
    h.advance(hours=2)
    deliver(h)
    assert len(receiver.got) == attempts  # given up: never sent again
    (state,) = reports_status(h)
    assert state.notifications_pending == 0
    assert status.attention(state) == (
        "1 notification given up after a day of failed deliveries to crm (last error: HTTP 503: receiver "
        "says no); check the receiver with `followersync notify test --name crm`"
    )


def test_a_ten_thousand_unfollow_pass_arrives_in_payloads_of_at_most_a_thousand(
    db_url: str, make_sim: MakeSim, receiver: Receiver
) -> None:
    sim = make_sim(seed=5, accounts={IG: 10_400})
    h = with_hooks(Harness(db_url, sim, [IG]), hook(receiver.url))
    h.sync()
    gone = sim.unfollow(IG.account_id, count=10_000)
    h.sync("full", accept_unfollows=True)
    deliver(h)
    sizes = [len(d.payload["events"]) for d in receiver.ok]
    assert sizes == [MAX_EVENTS] * 10
    assert sorted(e["follower_id"] for e in events_of(receiver, "unfollow")) == sorted(gone)
    assert len({d.payload["id"] for d in receiver.ok}) == 10
    texts = [d.payload["text"] for d in receiver.ok]
    assert texts[0].startswith(f"{IG.name}: 1,000 unfollowed: ") and texts[0].endswith("(part 1 of 10)")
    assert texts[9].endswith("(part 10 of 10)")
    h.close()


def test_withheld_unfollows_and_a_credential_failure_are_told_once(h: Harness, receiver: Receiver) -> None:
    with_hooks(h, hook(receiver.url, events=("withheld", "attention")))
    h.sync()
    h.sim.unfollow(LI.account_id, count=30)  # 75% of them: the guard withholds the marking
    h.sync("full")
    deliver(h)
    (withheld,) = receiver.got[-1].payload["events"]
    assert withheld["event"] == "withheld" and withheld["count"] == 30
    assert "active followers went missing in one pass (more than 25% and more than 25)" in withheld["reason"]
    assert withheld["command"] == f"followersync sync --source {LI.name} --mode full --accept-unfollows"

    h.sim.inject(Fault.error("errors/disconnected_account"), times=3)
    for _ in range(3):
        h.advance(hours=1)
        h.sync()
    deliver(h)
    attention = events_of(receiver, "attention")
    assert len(attention) == 1  # the first failure, not every hour after it
    assert attention[0]["message"].startswith("reconnect the account in postpress")
    assert receiver.got[-1].payload["text"].startswith(f"{LI.name}: needs attention: reconnect the account")


def test_repeated_failures_are_told_when_status_starts_flagging_them(h: Harness, receiver: Receiver) -> None:
    with_hooks(h, hook(receiver.url, events=("attention",)))
    h.sync()
    h.sim.inject(Fault.error("errors/feature_not_implemented"), times=4)
    told = []
    for _ in range(4):
        h.advance(hours=1)
        h.sync()
        deliver(h)
        told.append(len(events_of(receiver, "attention")))
    assert told == [0, 0, 1, 1]  # the third failure in a row, once
    (attention,) = events_of(receiver, "attention")
    assert attention["message"].startswith(
        "the last 3 runs failed (last error: errors/feature_not_implemented)"
    )


def test_a_run_whose_notifications_were_not_written_is_notified_by_the_next_one(
    h: Harness, receiver: Receiver
) -> None:
    """What a process killed between a run's end and its notifications leaves: a finished run not
    marked notified. The next run of the source writes it (and only once)."""
    with_hooks(h, hook(receiver.url))
    h.sync()
    new = h.sim.follow(LI.account_id, 2)
    h.sync()
    # The run is notified; make it look as if its process had died before that.
    with h.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM notification_outbox")
        conn.exec_driver_sql(
            "UPDATE sync_runs SET notified_at = NULL WHERE id = (SELECT max(id) FROM sync_runs)"
        )
    h.sync()
    h.sync()
    deliver(h)
    assert sorted(e["follower_id"] for e in events_of(receiver, "follow")) == sorted(new)
    assert len(receiver.got) == 1


def test_a_command_hook_gets_the_payload_on_stdin(h: Harness, tmp_path: Path) -> None:
    script = tmp_path / "on_followers.py"
    script.write_text(
        "import os, sys, pathlib\n"
        "out = pathlib.Path(sys.argv[1])\n"
        "out.joinpath(os.environ['FOLLOWERSYNC_DELIVERY']).write_bytes(sys.stdin.buffer.read())\n"
        "out.joinpath('env').write_text(os.environ.get('POSTPRESS_API_KEY', 'no key'))\n"
        "sys.exit(int(out.joinpath('exit').read_text()) if out.joinpath('exit').exists() else 0)\n"
    )
    (tmp_path / "exit").write_text("3")
    with_hooks(h, hook(command=(sys.executable, str(script), str(tmp_path))))
    h.sync()
    new = h.sim.follow(LI.account_id, 1)
    h.sync()
    deliver(h)
    (row,) = outbox(h)
    assert row.delivered_at is None and row.last_error == "exit 3"
    (tmp_path / "exit").unlink()
    h.advance(minutes=1)
    deliver(h)
    body = (tmp_path / row.id).read_bytes()
    assert body.decode() == row.body
    assert [e["follower_id"] for e in json.loads(body)["events"]] == new
    assert (tmp_path / "env").read_text() == "no key"  # the API key is not the command's business


def test_profile_changes_arrive_with_their_old_and_new_values(
    db_url: str, make_sim: MakeSim, receiver: Receiver
) -> None:
    sim = make_sim(seed=6, accounts={IG: 30})
    h = with_hooks(Harness(db_url, sim, [IG]), hook(receiver.url, events=("profile_change",)))
    h.sync()
    person = sim.followers(IG.account_id)[-1]
    sim.change_profile(IG.account_id, person["id"], username="renamed", is_private=not person["is_private"])
    sim.follow(IG.account_id, 1)  # not asked for: not sent
    h.sync("full")
    deliver(h)
    (delivery,) = receiver.got
    changes = sorted(delivery.payload["events"], key=lambda e: e["field"])
    assert [(e["event"], e["follower_id"], e["handle"]) for e in changes] == [
        ("profile_change", person["id"], "renamed")
    ] * 2
    assert [(e["field"], e["old_value"], e["new_value"]) for e in changes] == [
        ("is_private", str(person["is_private"]).lower(), str(not person["is_private"]).lower()),
        ("username", person["username"], "renamed"),
    ]
    assert delivery.payload["text"].startswith(f"{IG.name}: 2 profile changes: ")
    h.close()
