"""The commands that sync: `migrate`, `sync` and `worker`, with their stop on SIGTERM/SIGINT and the
summary they print."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import click

from followersync.cli.common import EXIT_SOURCE_FAILED, Globals, UsageProblem, at_start, open_database
from followersync.cli.render import column, print_table
from followersync.clock import SystemClock
from followersync.config import ConfigError, Settings
from followersync.domain import SYNC_MODES
from followersync.passes import PassRunner, SourceResult
from followersync.progress import show_progress
from followersync.store import db, sources
from followersync.worker import Fleet, Worker, build_client, new_holder_id


@click.command()
@click.pass_obj
def migrate(g: Globals) -> None:
    """Bring the configured database to the newest schema (alembic upgrade head).

    Safe to run any time: an up-to-date database is left as it is. `sync` and `worker` create the
    schema of an empty database themselves, but refuse to upgrade one that holds data: upgrading is
    always this deliberate step.

    \b
    Examples:
      followersync migrate
      FOLLOWERSYNC_DATABASE_URL=postgresql+psycopg://fs@db/fs followersync migrate
    """
    settings = g.settings()
    with open_database(settings, schema="any") as engine:
        before = db.current_revision(engine)
        try:
            db.migrate(engine)
        except db.SchemaNewer as exc:  # a newer followersync migrated it since open_database looked
            raise UsageProblem(str(exc)) from None
        after = db.current_revision(engine)
    click.echo(f"database {settings.database.safe_url}: schema {before or 'empty'} -> {after}")


@click.command()
@click.option(
    "--source",
    "source_names",
    multiple=True,
    metavar="NAME",
    help="Sync only this source (repeatable). Default: every configured source.",
)
@click.option(
    "--mode",
    type=click.Choice(SYNC_MODES),
    default="auto",
    show_default=True,
    help="full: list every follower, then mark unfollows. incremental: stop at the first page with "
    "nothing new. auto: full when the last complete full pass is older than sync.full_pass_interval.",
)
@click.option(
    "--accept-unfollows",
    is_flag=True,
    help="You vouch for this full pass: everyone it does not list is unfollowed at once, without "
    "waiting for a confirmation pass and even when more than the guard allows went missing.",
)
@click.pass_obj
def sync(g: Globals, source_names: Sequence[str], mode: str, accept_unfollows: bool) -> None:
    """One pass for each (or each named) source.

    Each page is committed with its checkpoint, so a killed run resumes where it stopped. SIGTERM or
    SIGINT lets the page in flight commit, ends the run `deferred` and exits 0.

    Unfollows are confirmed, not guessed: a follower a complete full pass does not list is first
    `missing` (the listing is offset-paged and skips people who never left); only when
    sync.unfollow_confirmations full passes in a row miss them (default 2) are they unfollowed,
    dated from the first miss. While followers are missing, mode auto runs the next full pass
    sync.confirm_after (default 1h) after the one that missed them. A pass that would newly mark
    more than the guard allows (sync.unfollow_guard_fraction, default 25%) marks nothing and says so.

    After the passes, the [[notify]] hooks get what the runs found (and any payload still waiting
    for a retry): see `followersync notify test --help` and the README's "Notifications".

    \b
    Examples:
      followersync sync
      followersync sync --source acme-page --source brand-ig --mode incremental
      followersync sync --source acme-page --mode full --accept-unfollows
    """
    settings = g.settings()
    try:
        selected = settings.select_sources(source_names)
        settings.require_api_key()
        settings.require_hook_secrets()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    if not selected:
        raise UsageProblem("sources: none configured; add [[sources]] tables to the configuration file")
    with _fleet(settings) as (fleet, ids):
        results = fleet.sync(
            [(s, ids[s.name]) for s in selected], mode=mode, accept_unfollows=accept_unfollows
        )
        fleet.deliver_notifications()
    _print_results(results)
    if any(r.status == "failed" for r in results):
        sys.exit(EXIT_SOURCE_FAILED)


@click.command()
@click.option("--once", is_flag=True, help="Sync every due source that no other process holds, then exit.")
@click.pass_obj
def worker(g: Globals, once: bool) -> None:
    """Long-running scheduler: claim due sources, sync them, sleep until the next is due.

    A source is due for a full pass when its last complete one is older than sync.full_pass_interval,
    else for an incremental pass every sync.interval; a deferred source once its cause has passed
    (the Retry-After wait, or the next UTC day for the daily budget). Any number of workers may share
    one PostgreSQL database: each linked account is held by one of them at a time (SQLite: one
    process). SIGTERM or SIGINT: the page in flight commits, runs end `deferred`, leases are released,
    exit 0. Between rounds, the [[notify]] hooks get what the runs found, never during a pass.

    \b
    Examples:
      followersync worker                  # run forever (systemd service, Kubernetes Deployment)
      followersync worker --once           # from cron or a Kubernetes CronJob
    """
    settings = g.settings()
    try:
        settings.require_api_key()
        settings.require_hook_secrets()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    if not settings.sources:
        raise UsageProblem("sources: none configured; add [[sources]] tables to the configuration file")
    with _fleet(settings) as (fleet, ids):
        scheduler = Worker(fleet, [(s, ids[s.name]) for s in settings.sources])
        results = scheduler.run(once=once)
        upcoming = scheduler.next_source_due() if once and not results else None
    if once:
        if upcoming is not None:
            name, due = upcoming
            click.echo(f"no source was due: the next is {name}, due {due:%Y-%m-%d %H:%M:%S} UTC")
            return
        _print_results(results)
        if any(r.status == "failed" for r in results):
            sys.exit(EXIT_SOURCE_FAILED)


@contextmanager
def _fleet(settings: Settings) -> Iterator[tuple[Fleet, dict[str, int]]]:
    """Database, API client and pass runner for `sync` and `worker`, stopped by SIGTERM/SIGINT."""
    stop = threading.Event()
    clock = SystemClock(stop)
    with open_database(settings, schema="create_if_empty") as engine:
        with at_start(settings), engine.begin() as conn:
            ids = sources.reconcile_sources(conn, settings.sources, clock.now())
        with build_client(settings, engine, clock) as client:
            runner = PassRunner(engine, client, settings, clock, new_holder_id(), stop=stop)
            with _stop_on_signals(runner), show_progress(runner):
                yield Fleet(runner, settings), ids


@contextmanager
def _stop_on_signals(runner: PassRunner) -> Iterator[None]:
    """SIGTERM/SIGINT: finish the page in flight, then stop. A second SIGINT interrupts at once
    (docs/semantics.md#stopping)."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if runner.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        runner.stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_results(results: Sequence[SourceResult]) -> None:
    if not results:
        click.echo("no source was due (or every due source is held by another process)")
        return
    columns = [
        column("source"),
        column("status"),
        column("mode"),
        # `followers`: the source's, after the run; `listed`: the distinct followers this run listed
        # (an incremental pass lists a page or two of a large account).
        *(column(name, numeric=True) for name in ("pages", "followers", "listed", "new", "missing", "lost")),
        column("unfollows_withheld", numeric=True, header="withheld"),
        column("coerced", numeric=True),
        column("requests", numeric=True),
        column("note"),
    ]
    records = [{**dataclasses.asdict(r), "note": r.message or _result_note(r)} for r in results]
    print_table(columns, records)


def _result_note(r: SourceResult) -> str:
    """What a good run's numbers do not say by themselves."""
    notes = []
    if r.baseline and r.resumed:
        # This run recorded only the part of the first pass its earlier runs had not.
        in_all = f": {r.followers:,} in all" if r.followers is not None else ""
        notes.append(f"{r.baseline:,} more followers recorded (baseline, resumed{in_all})")
    elif r.baseline:
        notes.append(f"{r.baseline:,} followers recorded (baseline)")
    if r.missing and r.accepted:
        notes.append(f"{r.missing:,} not listed: unfollowed at once (--accept-unfollows)")
    elif r.missing:
        notes.append(f"{r.missing:,} missing: unfollows only if the next full pass misses them too")
    if r.unfollows_withheld:
        notes.append(
            f"unfollows withheld ({r.withheld_reason or 'see `followersync sync --help`'}); if they really "
            f"left: followersync sync --mode full --accept-unfollows --source {r.source}"
        )
    if r.rejected:
        notes.append(f"{r.rejected:,} items without a usable id kept in rejected_items")
    if r.coerced:
        notes.append(f"{r.coerced:,} items had a field missing or unusable (stored as NULL)")
    return "; ".join(notes)
