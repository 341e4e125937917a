"""`followersync demo`: two weeks of a LinkedIn page and an Instagram account, replayed in seconds.

The simulator runs in-process as the postpress API; a throwaway configuration points a SQLite file at
it. The demo syncs once a day of simulated time (the clock is moved, nothing waits), with followers
coming and going between the syncs, so the growth report and the unfollow report have a story to tell.
On day 2 a follower leaves while the LinkedIn pass is running, which makes the offset-paged listing
skip someone who never left: the demo shows them missing for a pass, never unfollowed. On day 3 a
LinkedIn follower gets a new headline and an Instagram follower a new username: profile history,
and what a chat webhook (a `[[notify]]` hook, served in-process like the API) shows of that day. An
hour after the last day, the confirmation pass confirms that day's unfollows. The narration says each
day what the reports will say of it: an unfollow is dated from the pass that first missed it, so the
unfollows a day's pass confirms are the previous day's. No network, no API key, no other set-up.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from followersync.api.client import Client
from followersync.clock import FakeClock
from followersync.config import HookConfig, SourceConfig, load_settings
from followersync.passes import PassRunner
from followersync.progress import show_progress
from followersync.simulator import Fault, Simulator
from followersync.store import db, sources
from followersync.worker import Fleet

DEMO_KEY = "demo-key-not-secret"
SOURCES = (
    SourceConfig(name="acme-linkedin", provider="linkedin", account_id="acc_linkedin_demo"),
    SourceConfig(name="acme-instagram", provider="instagram", account_id="acc_ig_demo"),
)
FOLLOWERS = {"acme-linkedin": 1200, "acme-instagram": 2000}


@dataclass(frozen=True)
class Demo:
    directory: Path
    config: Path
    database: Path


def write_config(directory: Path, base_url: str, program: str = "followersync") -> Demo:
    """The demo's followersync.toml and SQLite file (an earlier demo's database is replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    database = directory / "followersync-demo.db"
    for leftover in directory.glob("followersync-demo.db*"):
        leftover.unlink()
    lines = [
        "# Written by `followersync demo`. Try:",
        f"#   {program} status --config {directory / 'followersync.toml'}",
        "[api]",
        f'base_url = "{base_url}"',
        "[database]",
        f'url = "sqlite:///{database}"',
        # No pacing: the simulator is ours, and the demo should take seconds.
        "[providers.linkedin]",
        "min_request_interval = 0",
        "[providers.instagram]",
        "min_request_interval = 0",
    ]
    for source in SOURCES:
        lines += [
            "[[sources]]",
            f'name = "{source.name}"',
            f'provider = "{source.provider}"',
            f'account_id = "{source.account_id}"',
        ]
    config = directory / "followersync.toml"
    config.write_text("\n".join(lines) + "\n")
    return Demo(directory, config, database)


@contextmanager
def chat_webhook() -> Iterator[tuple[str, list[str]]]:
    """A chat incoming webhook on loopback, as Slack's shows a payload: its `text`. Yields its URL and
    the texts it received so far."""
    texts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            texts.append(json.loads(body)["text"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/chat", texts
    finally:
        server.shutdown()
        server.server_close()


def _change_profiles(sim: Simulator, say: Callable[[str], None]) -> None:
    """Day 3's profile changes: a LinkedIn follower's new job, an Instagram follower's new handle."""
    linkedin, instagram = SOURCES
    someone = sim.followers(linkedin.account_id)[-8]  # followed from the start
    sim.change_profile(linkedin.account_id, someone["id"], headline="Head of Growth at Bolt")
    other = sim.followers(instagram.account_id)[-12]
    sim.change_profile(instagram.account_id, other["id"], username=other["username"] + ".studio")
    say(
        f'  profiles: {someone["name"]} changed their headline from "{someone["headline"]}" to '
        '"Head of Growth at Bolt"; '
        f"@{other['username']} is now @{other['username']}.studio (one profile, its history kept)"
    )


def run(
    directory: Path,
    days: int,
    say: Callable[[str], None],
    *,
    progress: bool | None = None,
    program: str = "followersync",
) -> Demo:
    """Replay `days` days of syncs into the demo database; return where everything is."""
    rng = random.Random(2026)
    with (
        Simulator(api_key=DEMO_KEY, seed=2026, latency=0.002) as sim,
        chat_webhook() as (chat_url, chat_texts),
    ):
        for source in SOURCES:
            sim.add_account(source.account_id, source.provider, followers=FOLLOWERS[source.name])
        demo = write_config(directory, sim.base_url, program)
        settings = load_settings(demo.config, env={"POSTPRESS_API_KEY": DEMO_KEY})
        # The chat hook lives in this process only, so it is not in the file the demo leaves behind.
        chat = HookConfig(name="demo-chat", number=1, url=chat_url)
        settings = dataclasses.replace(settings, notify=(chat,))
        # Ends now: the last day's sync, then the confirmation pass `confirm_after` later. Day 1 is
        # always the UTC date `days - 1` before today: shortly after midnight, starting `confirm_after`
        # before now would put day 1 on the date before, and the growth report would show one day more
        # than the narration (the passes then start at that date's midnight; the confirmation pass
        # lands up to `confirm_after` after now, still today).
        confirm_after = timedelta(seconds=settings.sync.confirm_after)
        now = datetime.now(UTC)
        first_day = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), UTC)
        clock = FakeClock(start=max(now - timedelta(days=days - 1) - confirm_after, first_day))
        engine = db.create_engine(settings.database.url)
        db.ensure_schema(engine)
        with engine.begin() as conn:
            ids = sources.reconcile_sources(conn, settings.sources, clock.now())
        selected = [(s, ids[s.name]) for s in settings.sources]
        with Client(settings.api, settings.providers, DEMO_KEY, clock=clock) as client:
            runner = PassRunner(engine, client, settings, clock, "demo")
            fleet = Fleet(runner, settings)
            say(f"Day 1 ({clock.now():%Y-%m-%d}): first sync of {len(selected)} sources")
            with show_progress(runner, enabled=progress):
                fleet.sync(selected)
            synced_on = clock.now()  # when the last pass ran: the date its missing followers get
            for day in range(2, days + 1):
                clock.advance(86400)
                changes = []
                for source in SOURCES:
                    # Leavers first, among those the last pass saw: a follower who came and went between
                    # two syncs is in no listing, and so in no report, and the narration would count them.
                    lost = len(sim.unfollow(source.account_id, count=rng.randint(3, 22)))
                    gained = len(sim.follow(source.account_id, rng.randint(8, 45)))
                    changes.append(f"{source.name} +{gained} -{lost}")
                if day == 2:  # someone already listed leaves while the pass runs
                    sim.inject(Fault.departure(), account_id=SOURCES[0].account_id, on_page=1)
                if day == 3:
                    _change_profiles(sim, say)
                told = len(chat_texts)
                results = fleet.sync(selected)
                fleet.deliver_notifications()
                # Told as the reports will tell it: today's leavers are only missing until the next full
                # pass confirms them, and then dated today, when they were first missed; the unfollows
                # this pass confirms are the previous pass's missing, dated that day. So "lost" in the
                # growth report for a day is that day's leavers, not the unfollows confirmed on it.
                summary = ", ".join(
                    f"{r.source} {r.status} ({r.mode}, {r.missing} missing, {r.lost} unfollows confirmed "
                    f"dated {synced_on:%Y-%m-%d})"
                    for r in results
                )
                say(f"Day {day} ({clock.now():%Y-%m-%d}): churn {'; '.join(changes)} -> {summary}")
                if day == 2:
                    say(
                        "  (a follower missing from a full pass is an unfollow only once the next full pass "
                        "misses them too, and is dated from the first miss: the growth report counts "
                        "today's leavers as lost today, once confirmed)"
                    )
                synced_on = clock.now()
                for departure in sim.departures:
                    say(
                        f"  mid-pass: {departure.left} left while {SOURCES[0].name} was listed, so the "
                        f"listing shifted and skipped {departure.skipped}, who never left: only missing "
                        "until the next pass lists them again, never reported as an unfollower"
                    )
                sim.departures.clear()
                if day == 3:
                    for text in chat_texts[told:]:
                        say(f"  chat webhook: {text}")
            clock.advance(confirm_after.total_seconds())
            results = fleet.sync(selected)
            fleet.deliver_notifications()
            summary = ", ".join(
                f"{r.source} {r.lost} unfollows confirmed dated {synced_on:%Y-%m-%d} ({r.mode})"
                for r in results
            )
            say(f"{clock.now():%Y-%m-%d %H:%M} UTC: confirmation pass, {confirm_after} later -> {summary}")
        engine.dispose()
    return demo
