"""`followersync status`: each configured source's state, as a table or JSON.

Its own module, apart from the other reading commands (report_commands.py), because it is the
command people and cron jobs run most, so it starts with as little as it can: on a SQLite file it
reads through the sqlite3 driver (store/sqlite_status.py) and imports no SQLAlchemy; on PostgreSQL,
or if that quick read cannot start, it reads through SQLAlchemy like the other commands. Both run the
same statements (store/statements.py) and make the same records, so the output is the same whichever
read made it.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from datetime import datetime
from typing import Any

import click

from followersync import logging as fslogging
from followersync import status, text
from followersync.cli.common import DatabaseFailed, Globals, UsageProblem, driver_message, open_database
from followersync.cli.render import duration, format_option, human, jsonable
from followersync.clock import SystemClock
from followersync.config import CONFIG_FILE_NAME, ENV_CONFIG, Settings, SourceConfig, SyncSettings
from followersync.domain import ErrorType, RunStatus
from followersync.store import sqlite_status
from followersync.store.schema_version import SchemaMissing, SchemaNewer, SchemaOutOfDate
from followersync.sync import rules, sizing

log = fslogging.get_logger("followersync.reports")


@click.command("status")
@format_option("table", "json")
@click.pass_obj
def status_command(g: Globals, fmt: str) -> None:
    """Each configured source: followers now, last run, last complete pass, checkpoint.

    A source that needs you (credentials to reconnect, a restricted account, unfollows withheld by the
    guard, repeated failures, notifications given up, limits that deferred the last run) gets a line
    starting with `!` and a non-null `attention` in JSON. Runs left `running` by a process that died
    are recorded as `abandoned` first; nothing else is written (a configured source not synced yet
    is shown with 0 followers and no last run). Exit code 0 whatever the state of the sources.

    \b
    Examples:
      followersync status
      followersync status --format json | jq '.[] | select(.attention != null)'

    \b
    JSON fields: source, provider, account_id, user_id, followers (active, the missing included),
    last_run {id, mode, status, started_at, finished_at, error_type} or null, missing (followers not
    listed by the last full pass, awaiting confirmation), notifications_pending (payloads not
    delivered yet), last_full_pass_at, checkpoint {pages,
    updated_at} or null, attention; and gained_7d, lost_7d, lease {holder, expires_at} or null,
    missing_since, confirmation_due, full_pass_progress (how far a full pass in progress is, and
    when it should end at the budget) and sizing (a sentence when the source cannot complete a full
    pass and its confirming pass within sync.full_pass_interval at its pacing and budget), or null.
    """
    settings = g.settings()
    if settings.config_path is None:
        # Without a file there are no sources to show, and the database it would read is the default
        # one, most likely not there: say what is missing first, not what follows from it.
        raise UsageProblem(
            f"no configuration file: status shows the sources of {CONFIG_FILE_NAME}, and "
            f"{os.path.join(os.getcwd(), CONFIG_FILE_NAME)} does not exist; "
            f"give --config PATH or set {ENV_CONFIG}"
        )
    now = SystemClock().now()
    names = [s.name for s in settings.sources]
    path = settings.database.sqlite_file
    read = _read_sqlite_file(settings, path, names, now) if path is not None else None
    abandoned, known = read or _read(settings, names, now)
    by_name = {s.source: s for s in known}
    states = [by_name.get(s.name) or never_synced(s) for s in settings.sources]
    if abandoned:
        log.warning("runs.abandoned", count=abandoned, reason="their process stopped renewing its lease")
    if fmt == "json":
        records = [status_record(s, settings) for s in states]
        click.echo(text.json_text(records))
    elif not states:
        click.echo("no sources configured: add [[sources]] tables to the configuration file")
    else:
        click.echo("\n\n".join(status_block(s, settings) for s in states))


def never_synced(source: SourceConfig) -> status.SourceStatus:
    """A configured source the database does not know yet: no followers, no runs."""
    return status.SourceStatus(
        source=source.name,
        provider=source.provider,
        account_id=source.account_id,
        user_id=source.user_id,
        followers=0,
        missing=0,
        missing_since=None,
        gained_7d=0,
        lost_7d=0,
        last_run=None,
        last_full_pass_at=None,
        checkpoint=None,
        lease=None,
        last_error_status=None,
        failed_streak=0,
        unfollows_withheld=0,
    )


def confirmation_due(s: status.SourceStatus, sync: SyncSettings) -> datetime | None:
    """When the full pass that confirms or clears the missing followers is due (None: none missing)."""
    if not s.missing or s.last_full_pass_at is None:
        return None
    return rules.full_pass_due(sync, s.last_full_pass_at, s.missing)


def full_pass_progress(s: status.SourceStatus, settings: Settings) -> str | None:
    """How far the full pass in progress is (None: no pass in progress)."""
    if s.checkpoint is None:
        return None
    provider = settings.provider(s.provider)
    run = s.last_run
    paused = (
        run is not None and run.status == RunStatus.DEFERRED and run.error_type == ErrorType.BUDGET_EXHAUSTED
    )
    return sizing.progress(
        s.checkpoint.pages, s.followers, s.last_full_pass_at is None, provider, budget_used_up=paused
    )


def sizing_note(s: status.SourceStatus, settings: Settings) -> str | None:
    """The sentence of `sizing.too_slow` for the source's followers now (None: it keeps up)."""
    provider = settings.provider(s.provider)
    size = sizing.PassSize.of(s.followers, provider)
    return sizing.too_slow(s.source, s.provider, size, provider, settings.sync)


def status_record(s: status.SourceStatus, settings: Settings) -> dict[str, Any]:
    """A source's status as its JSON object (README, "Reports and status"): contract fields first."""
    sync = settings.sync
    record = {
        "source": s.source,
        "provider": s.provider,
        "account_id": s.account_id,
        "user_id": s.user_id,
        "followers": s.followers,
        "last_run": dataclasses.asdict(s.last_run) if s.last_run else None,
        "missing": s.missing,
        "notifications_pending": s.notifications_pending,
        "last_full_pass_at": s.last_full_pass_at,
        "checkpoint": dataclasses.asdict(s.checkpoint) if s.checkpoint else None,
        "attention": status.attention(s),
        "gained_7d": s.gained_7d,
        "lost_7d": s.lost_7d,
        "lease": dataclasses.asdict(s.lease) if s.lease else None,
        "missing_since": s.missing_since,
        "confirmation_due": confirmation_due(s, sync),
        "full_pass_progress": full_pass_progress(s, settings),
        "sizing": sizing_note(s, settings),
    }
    result: dict[str, Any] = jsonable(record)
    return result


def status_block(s: status.SourceStatus, settings: Settings) -> str:
    """A source's lines for people. Each goes out through `text.printable`: an error type or title is
    the API's own text, a hook's last error its receiver's, and none may move the cursor or break the
    block's lines (docs/semantics.md#what-followersync-prints)."""
    sync = settings.sync
    whose = f", followers of {s.user_id}" if s.user_id else ""
    lines = [text.printable(f"{s.source}  ({s.provider}, account {s.account_id}{whose})")]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<16} {text.printable(value)}")

    row("followers now", f"{s.followers}  (+{s.gained_7d} / -{s.lost_7d} in {status.RECENT_DAYS} days)")
    due = confirmation_due(s, sync)
    if due is not None and s.missing_since is not None:
        row(
            "missing",
            f"{s.missing} follower{'s' if s.missing != 1 else ''} missing since "
            f"{human(s.missing_since)} UTC, confirmation pass due {human(due)} UTC",
        )
    run = s.last_run
    if run is None:
        row("last run", "never")
    else:
        took = (
            "still running"
            if run.finished_at is None
            else f"took {duration(run.started_at, run.finished_at)}"
        )
        error = f", {run.error_type}" if run.error_type else ""
        row(
            "last run",
            f"#{run.id} {run.mode} {run.status}{error}, started {human(run.started_at)} UTC, {took}",
        )
    row("last full pass", f"{human(s.last_full_pass_at)} UTC" if s.last_full_pass_at else "never completed")
    if s.checkpoint is None:
        row("checkpoint", "none (no pass in progress)")
    else:
        row("checkpoint", f"page {s.checkpoint.pages}, saved {human(s.checkpoint.updated_at)} UTC")
        row("progress", full_pass_progress(s, settings) or "")
    if s.notifications_pending or s.notifications_given_up:
        given_up = f", {s.notifications_given_up} given up" if s.notifications_given_up else ""
        row("notifications", f"{s.notifications_pending} waiting for delivery{given_up}")
    if s.lease is not None:
        row("syncing now", f"held by {s.lease.holder} until {human(s.lease.expires_at)} UTC")
    note = status.attention(s)
    if note:
        lines.append(f"  ! {text.printable(note)}")
    slow = sizing_note(s, settings)
    if slow:
        lines.append(f"  note: {text.printable(slow)}")
    return "\n".join(lines)


def _read(settings: Settings, names: list[str], now: datetime) -> tuple[int, list[status.SourceStatus]]:
    """Through SQLAlchemy: runs of dead processes abandoned (how many), then the known sources' states."""
    # Imported here: they import SQLAlchemy, which the read of a SQLite file does without.
    from followersync import reports
    from followersync.store import runs, sources

    with open_database(settings, schema="required") as engine:
        # The one write a reading command makes: runs of dead processes are abandoned. The sources
        # table is left as it is: `status --config other.toml` must not re-point or disable any.
        with engine.begin() as conn:
            abandoned = runs.mark_abandoned_runs(conn, now)
        with engine.connect() as conn:
            ids = sources.source_ids(conn, names)
            known = reports.status(conn, list(ids.values()), now)
    return abandoned, known


def _read_sqlite_file(
    settings: Settings, path: str, names: list[str], now: datetime
) -> tuple[int, list[status.SourceStatus]] | None:
    """What `_read` reads, from the SQLite file at `path` through the sqlite3 driver alone.

    None if the file cannot be read from (missing, without followersync's schema or at an older one,
    not a database...), before anything is written: then `_read` runs, and reports the problem
    exactly as every command does.
    """
    try:
        conn = sqlite_status.open_reading(path)
    except (sqlite3.Error, SchemaMissing, SchemaOutOfDate, SchemaNewer):
        return None
    try:
        abandoned = sqlite_status.mark_abandoned_runs(conn, now)
        ids = sqlite_status.source_ids(conn, names)
        return abandoned, sqlite_status.status(conn, list(ids.values()), now)
    except sqlite3.Error as exc:
        # As open_database reports a database that failed once the command had started with it.
        raise DatabaseFailed(
            f"database.url: {settings.database.safe_url} failed: {driver_message(exc)}"
        ) from None
    finally:
        conn.close()
