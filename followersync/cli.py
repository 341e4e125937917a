"""The command line: parse, call, print. No logic of its own lives here."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Literal

import click
import sqlalchemy as sa
import structlog

from followersync import __version__, allocator
from followersync import logging as fslogging
from followersync.clock import SystemClock
from followersync.config import ConfigError, Settings, load_settings
from followersync.domain import SYNC_MODES
from followersync.engine import PassRunner, SourceResult
from followersync.progress import show_progress
from followersync.store import db, runs
from followersync.worker import Fleet, Worker, build_client, new_holder_id

EXIT_OK, EXIT_SOURCE_FAILED, EXIT_USAGE = 0, 1, 2


class UsageProblem(click.ClickException):
    """A configuration or usage error: one line on stderr, exit code 2."""

    exit_code = EXIT_USAGE


class DatabaseFailed(click.ClickException):
    """The database failed after the command had started with it: one line on stderr, exit code 1.

    the README's "Commands": a database that goes away while a command runs is never a usage error.
    """

    exit_code = EXIT_SOURCE_FAILED


@dataclass
class Globals:
    config_path: str | None
    log_format: str | None

    def settings(self) -> Settings:
        try:
            settings = load_settings(self.config_path)
        except ConfigError as exc:
            raise UsageProblem(str(exc)) from None
        fslogging.register_secret(settings.api.api_key)
        password = sa.make_url(settings.database.url).password
        fslogging.register_secret(str(password) if password else None)
        log = structlog.get_logger("followersync")
        for warning in settings.warnings:
            log.warning("config.warning", message=warning)
        return settings


@contextmanager
def _database(
    settings: Settings, *, schema: Literal["any", "create_if_empty", "required"]
) -> Iterator[sa.Engine]:
    """The configured database, connected to and its schema checked before the command does anything
    with it: `create_if_empty` (`sync`, `worker`) creates the schema of an empty database, `required`
    (the commands that only read) creates nothing and wants the schema there, `any` (`migrate`) only
    connects.

    Up to there, a database that cannot be used is a configuration error (exit 2). Afterwards it was
    there and went away: whatever error escapes the command is exit 1, one line.
    """
    try:
        engine = db.create_engine(settings.database.url, read_only=schema == "required")
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        with _at_start(settings):
            if schema == "create_if_empty":
                db.ensure_schema(engine)
            elif schema == "required":
                db.require_schema(engine)
            else:
                engine.connect().close()
        try:
            yield engine
        except sa.exc.DBAPIError as exc:
            raise DatabaseFailed(
                f"database.url: {settings.database.safe_url} failed: {_first_line(exc)}"
            ) from None
    finally:
        engine.dispose()


@contextmanager
def _at_start(settings: Settings) -> Iterator[None]:
    """Database steps before anything has run: a database we cannot use is a usage error (exit 2)."""
    try:
        yield
    except db.SchemaMissing:
        raise UsageProblem(
            f"database.url: {settings.database.safe_url} has no followersync schema yet: "
            "run `followersync migrate` or `followersync sync`"
        ) from None
    except db.SchemaOutOfDate as exc:
        raise UsageProblem(str(exc)) from None
    except sa.exc.OperationalError as exc:
        raise UsageProblem(
            f"database.url: cannot use {settings.database.safe_url}: {_first_line(exc)}"
        ) from None


def _first_line(exc: sa.exc.DBAPIError) -> str:
    """The driver's message, without the SQL statement and parameters SQLAlchemy adds."""
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="followersync")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: $FOLLOWERSYNC_CONFIG, else ./followersync.toml if present).",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    help="Log format on stderr (default: console on a terminal, JSON lines otherwise).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str | None) -> None:
    """Keep a SQL database in step with the followers of postpress-linked accounts.

    \b
    Typical use:
      followersync demo                    # see it work, with nothing to set up
      followersync migrate                 # create or upgrade the schema
      followersync sync                    # one pass for every configured source
      followersync worker                  # or keep syncing whatever is due
      followersync status                  # how each source is doing
      followersync report growth --format png
    Exit codes: 0 all good, 1 at least one source failed, 2 usage or configuration error.
    """
    fslogging.configure(log_format)
    ctx.obj = Globals(config_path, log_format)


@cli.command()
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
    with _database(settings, schema="any") as engine:
        before = db.current_revision(engine)
        db.migrate(engine)
        after = db.current_revision(engine)
    click.echo(f"database {settings.database.safe_url}: schema {before or 'empty'} -> {after}")


@cli.command()
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
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    if not selected:
        raise UsageProblem("sources: none configured; add [[sources]] tables to the configuration file")
    with _fleet(settings) as (fleet, ids):
        results = fleet.sync(
            [(s, ids[s.name]) for s in selected], mode=mode, accept_unfollows=accept_unfollows
        )
    _print_results(results)
    if any(r.status == "failed" for r in results):
        sys.exit(EXIT_SOURCE_FAILED)


@cli.command()
@click.option("--once", is_flag=True, help="Sync every due source that no other process holds, then exit.")
@click.pass_obj
def worker(g: Globals, once: bool) -> None:
    """Long-running scheduler: claim due sources, sync them, sleep until the next is due.

    A source is due for a full pass when its last complete one is older than sync.full_pass_interval,
    else for an incremental pass every sync.interval; a deferred source once its cause has passed
    (the Retry-After wait, or the next UTC day for the daily budget). Any number of workers may share
    one PostgreSQL database: each linked account is held by one of them at a time (SQLite: one
    process). SIGTERM or SIGINT: the page in flight commits, runs end `deferred`, leases are released,
    exit 0.

    \b
    Examples:
      followersync worker                  # run forever (systemd service, Kubernetes Deployment)
      followersync worker --once           # from cron or a Kubernetes CronJob
    """
    settings = g.settings()
    try:
        settings.require_api_key()
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    if not settings.sources:
        raise UsageProblem("sources: none configured; add [[sources]] tables to the configuration file")
    with _fleet(settings) as (fleet, ids):
        results = Worker(fleet, [(s, ids[s.name]) for s in settings.sources]).run(once=once)
    if once:
        _print_results(results)
        if any(r.status == "failed" for r in results):
            sys.exit(EXIT_SOURCE_FAILED)


@contextmanager
def _fleet(settings: Settings) -> Iterator[tuple[Fleet, dict[str, int]]]:
    """Database, API client and pass runner for `sync` and `worker`, stopped by SIGTERM/SIGINT."""
    stop = threading.Event()
    clock = SystemClock(stop)
    with _database(settings, schema="create_if_empty") as engine:
        with _at_start(settings), engine.begin() as conn:
            ids = runs.sync_sources(conn, settings.sources, clock.now())
        with build_client(settings, engine, clock) as client:
            runner = PassRunner(engine, client, settings, clock, new_holder_id(), stop=stop)
            with _stop_on_signals(runner), show_progress(runner):
                yield Fleet(runner, settings), ids


@contextmanager
def _stop_on_signals(runner: PassRunner) -> Iterator[None]:
    """SIGTERM/SIGINT: finish the page in flight, then stop. A second SIGINT interrupts at once."""

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
    headers = (
        "source", "status", "mode", "pages", "followers", "new", "missing", "lost", "withheld", "requests",
        "note",
    )  # fmt: skip
    rows = [
        (
            r.source,
            r.status,
            r.mode or "-",
            str(r.pages),
            str(r.followers),
            str(r.new),
            str(r.missing),
            str(r.lost),
            str(r.unfollows_withheld),
            str(r.requests),
            r.message or _result_note(r),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _result_note(r: SourceResult) -> str:
    """What a good run's numbers do not say by themselves."""
    notes = []
    if r.baseline:
        notes.append(f"{r.baseline:,} followers recorded (baseline)")
    if r.missing:
        notes.append(f"{r.missing:,} missing: unfollows only if the next full pass misses them too")
    if r.unfollows_withheld:
        notes.append("unfollows withheld: see `followersync sync --help`")
    return "; ".join(notes)


@cli.command()
@click.option(
    "--dir",
    "directory",
    default="followersync-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo writes its configuration, SQLite database and chart.",
)
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(2, 90), help="Days of history to replay."
)
@click.pass_context
def demo(ctx: click.Context, directory: Path, days: int) -> None:
    """Run the whole product on your machine in a few seconds, with nothing to set up.

    Starts the built-in postpress simulator, writes a throwaway configuration with one LinkedIn and
    one Instagram source and a SQLite database, syncs them once a day for DAYS days of simulated time
    while followers come and go, then prints the status, the unfollow report and the growth chart's
    path. No network, no API key.

    \b
    Example:
      followersync demo --dir /tmp/fs-demo --days 30
      followersync --config /tmp/fs-demo/followersync.toml report growth
    """
    from followersync import demo as replay
    from followersync.report_commands import growth_command, status_command, unfollows_command

    fslogging.configure(ctx.obj.log_format, level="warning")  # the demo narrates; run logs would drown it
    made = replay.run(directory, days, click.echo)
    ctx.obj = Globals(str(made.config), ctx.obj.log_format)
    chart = directory / "growth.png"
    click.echo("\n$ followersync status")
    ctx.invoke(status_command, fmt="table")
    since = datetime.now(UTC) - timedelta(days=1)
    click.echo(f"\n$ followersync report unfollows --since {since:%Y-%m-%dT%H:%M}")
    ctx.invoke(unfollows_command, source=None, since=since, fmt="table")
    click.echo("\n$ followersync report growth --days 7")
    ctx.invoke(growth_command, source=None, days=7, fmt="table", output=None)
    click.echo(f"\n$ followersync report growth --format png --output {chart}")
    ctx.invoke(growth_command, source=None, days=days, fmt="png", output=chart)
    click.echo(
        f"\nThe demo database is {made.database}; ask it anything, e.g.\n"
        f"  followersync --config {made.config} runs\n"
        f"  sqlite3 {made.database} 'SELECT * FROM v_follower_growth_daily ORDER BY day DESC LIMIT 5'"
    )


def main() -> None:
    allocator.return_large_buffers()  # before any page is read: the peak memory of a pass
    cli(prog_name="followersync")


class _LazySimulate(click.Command):
    """`simulate`, whose module is imported only when the command runs or `--help` lists it: the
    simulator brings http.server and a whole fake API along, which `sync` and `worker` never use.

    Parsing, help and the run are the real command's (make_context hands over to it), so
    `followersync simulate --help` reads exactly as the command itself does.
    """

    def __init__(self) -> None:
        super().__init__("simulate")

    @staticmethod
    def _real() -> click.Command:
        from followersync.simulator import simulate_command

        return simulate_command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        return self._real().make_context(info_name, args, parent, **extra)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self._real().get_short_help_str(limit)


def _register_simulator() -> None:
    cli.add_command(_LazySimulate())


_register_simulator()


def _register_reports() -> None:
    from followersync.report_commands import register

    register(cli)


_register_reports()
