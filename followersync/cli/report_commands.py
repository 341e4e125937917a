"""The reading commands: `status`, `runs`, `report unfollows`, `report growth` and `report changes`.

They read what `reports` returns and print it as a table (for people), CSV or JSON (for scripts:
the README's "Reports and status") or, for growth, a PNG chart. One small renderer, `emit`, serves
all of them, so the machine formats follow the same rules everywhere:

- `--format json` prints one JSON array on stdout and nothing else (logs go to stderr);
- CSV has the JSON fields as columns, with a header row;
- times are ISO 8601 with an offset (UTC), days YYYY-MM-DD, numbers are numbers.

None of these commands calls the API, so none needs the API key.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from followersync import logging as fslogging
from followersync import reports, status
from followersync.cli.chart import DEFAULT_CHART_PATH, INSTALL_CHARTS, charts_missing, draw_growth_chart
from followersync.cli.common import Globals, UsageProblem, open_database
from followersync.cli.render import Column, column, duration, emit, human, jsonable
from followersync.clock import SystemClock
from followersync.config import Settings, SourceConfig, SyncSettings
from followersync.store import runs

log = fslogging.get_logger("followersync.reports")


UNFOLLOW_FIELDS = ("source", "follower_id", "name", "handle", "unfollowed_at")


GROWTH_FIELDS = ("source", "day", "followers", "gained", "lost")


CHANGE_FIELDS = ("source", "follower_id", "field", "old_value", "new_value", "changed_at")


RUNS_FIELDS = ("source", *reports.RUN_FIELDS)


def _format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    machine = [c for c in choices if c in ("csv", "json")]
    help = "table for people; " + " and ".join(machine) + " for scripts"
    if "png" in choices:
        help += "; png draws a chart"
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default="table",
        show_default=True,
        help=help + ".",
    )


def _source_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--source", metavar="NAME", help=help)


def _check_source(conn: sa.Connection, settings: Settings, name: str | None) -> None:
    """An unknown --source is a usage error, not an empty report: a typo must not look like "no data"."""
    if name is None:
        return
    known = sorted(set(reports.source_names(conn)) | {s.name for s in settings.sources})
    if name not in known:
        listing = ", ".join(known) if known else "none yet"
        raise UsageProblem(f'--source: no source named "{name}" (known sources: {listing})')


@click.command("status")
@_format_option("table", "json")
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
    missing_since, confirmation_due.
    """
    settings = g.settings()
    now = SystemClock().now()
    with open_database(settings, schema="required") as engine:
        # The one write a reading command makes: runs of dead processes are abandoned. The sources
        # table is left as it is: `status --config other.toml` must not re-point or disable any.
        with engine.begin() as conn:
            abandoned = runs.mark_abandoned_runs(conn, now)
        with engine.connect() as conn:
            ids = runs.source_ids(conn, [s.name for s in settings.sources])
            known = reports.status(conn, list(ids.values()), now)
    by_name = {s.source: s for s in known}
    states = [by_name.get(s.name) or never_synced(s) for s in settings.sources]
    if abandoned:
        log.warning("runs.abandoned", count=abandoned, reason="their process stopped renewing its lease")
    if fmt == "json":
        records = [status_record(s, settings.sync) for s in states]
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    elif not states:
        click.echo("no sources configured: add [[sources]] tables to the configuration file")
    else:
        click.echo("\n\n".join(status_block(s, settings.sync) for s in states))


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
    return sync.full_pass_due(s.last_full_pass_at, s.missing)


def status_record(s: status.SourceStatus, sync: SyncSettings) -> dict[str, Any]:
    """A source's status as its JSON object (README, "Reports and status"): contract fields first."""
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
    }
    result: dict[str, Any] = jsonable(record)
    return result


def status_block(s: status.SourceStatus, sync: SyncSettings) -> str:
    whose = f", followers of {s.user_id}" if s.user_id else ""
    lines = [f"{s.source}  ({s.provider}, account {s.account_id}{whose})"]

    def row(label: str, text: str) -> None:
        lines.append(f"  {label:<16} {text}")

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
    if s.notifications_pending or s.notifications_given_up:
        given_up = f", {s.notifications_given_up} given up" if s.notifications_given_up else ""
        row("notifications", f"{s.notifications_pending} waiting for delivery{given_up}")
    if s.lease is not None:
        row("syncing now", f"held by {s.lease.holder} until {human(s.lease.expires_at)} UTC")
    note = status.attention(s)
    if note:
        lines.append(f"  ! {note}")
    return "\n".join(lines)


@click.command("runs")
@_source_option("Only the runs of this source.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first."
)
@_format_option("table", "json")
@click.pass_obj
def runs_command(g: Globals, source: str | None, limit: int, fmt: str) -> None:
    """Run history, newest first.

    \b
    Examples:
      followersync runs
      followersync runs --source acme-page --limit 5
      followersync runs --format json | jq '.[] | select(.status == "failed")'

    \b
    JSON fields: source and every sync_runs column: id, source_id, mode, status, started_at,
    finished_at, pages, items, followers_new (follow events, not the baseline), followers_missing
    (newly missing, awaiting confirmation), followers_lost (unfollows confirmed), unfollows_withheld,
    requests, retries, error_type, error_detail.
    """
    settings = g.settings()
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        history = reports.run_history(conn, source=source, limit=limit)
    columns = [
        column("id", numeric=True, header="run"),
        column("source"),
        column("mode"),
        column("status"),
        column("started_at", header="started (UTC)"),
        Column("duration", lambda r: duration(r["started_at"], r["finished_at"]), numeric=True),
        column("pages", numeric=True),
        column("items", numeric=True),
        column("followers_new", numeric=True, header="new"),
        column("followers_missing", numeric=True, header="missing"),
        column("followers_lost", numeric=True, header="lost"),
        column("unfollows_withheld", numeric=True, header="withheld"),
        column("requests", numeric=True),
        column("retries", numeric=True),
        Column("error", _run_error),
    ]
    emit(history, fmt, fields=RUNS_FIELDS, columns=columns, empty="no runs yet")


def _run_error(run: Mapping[str, Any]) -> str:
    if not run["error_type"]:
        return ""
    detail = run["error_detail"] if isinstance(run["error_detail"], Mapping) else {}
    text = detail.get("title") or detail.get("detail")
    full = f"{run['error_type']}: {text}" if text else str(run["error_type"])
    return full if len(full) <= 80 else full[:79] + "…"


@click.group("report")
def report_group() -> None:
    """Who unfollowed, how the following grows, and how followers' profiles change.

    The reports read the views v_followers, v_follower_growth_daily and v_profile_changes, which you
    can also query with SQL.

    \b
    Examples:
      followersync report unfollows --since 2026-01-01
      followersync report growth --days 90 --format png --output growth.png
      followersync report changes --source acme-page --since 2026-11-01
    """


def parse_since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    """--since: YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time; one without an offset is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time (2026-11-20T08:00:00+01:00)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _since_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--since",
        metavar="DATE",
        callback=parse_since,
        help=f"Only {what} at or after this UTC date (YYYY-MM-DD) or ISO 8601 date-time.",
    )


@report_group.command("unfollows")
@_source_option("Only the followers of this source.")
@_since_option("unfollows")
@_format_option("table", "csv", "json")
@click.pass_obj
def unfollows_command(g: Globals, source: str | None, since: datetime | None, fmt: str) -> None:
    """Who unfollowed, and when (newest first). Followers who came back are not listed.

    \b
    Examples:
      followersync report unfollows
      followersync report unfollows --source brand-ig --since 2026-11-01
      followersync report unfollows --since 2026-11-20T08:00:00+01:00 --format csv > unfollows.csv

    \b
    Fields (JSON and CSV): source, follower_id, name, handle (Instagram username, LinkedIn profile
    URL), unfollowed_at.
    """
    settings = g.settings()
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        gone = reports.unfollows(conn, source=source, since=since)
    columns = [
        column("unfollowed_at", header="unfollowed (UTC)"),
        column("source"),
        column("name"),
        column("handle"),
        column("follower_id", header="follower id"),
    ]
    empty = "no unfollows" + (f" since {human(since)} UTC" if since else "")
    emit([dataclasses.asdict(u) for u in gone], fmt, fields=UNFOLLOW_FIELDS, columns=columns, empty=empty)


@report_group.command("growth")
@_source_option("Only this source.")
@click.option(
    "--days",
    type=click.IntRange(min=1, max=36600),
    default=30,
    show_default=True,
    help="How many UTC days, today included.",
)
@_format_option("table", "csv", "json", "png")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where --format png writes the chart (default: ./{DEFAULT_CHART_PATH}).",
)
@click.pass_obj
def growth_command(g: Globals, source: str | None, days: int, fmt: str, output: Path | None) -> None:
    """Daily followers, gained and lost per source, oldest day first.

    `followers` is the number of active followers at the end of the UTC day; `gained` counts new
    follows and refollows (not the first sync's baseline); `lost` counts unfollows. With --format png
    the chart shows followers as a line per source and gained (up) and lost (down) as bars, and the
    path written is printed. When there is no data yet, no chart is written and the command says so
    (exit 0).

    \b
    Examples:
      followersync report growth
      followersync report growth --source acme-page --days 90 --format csv > growth.csv
      followersync report growth --format png --output docs/growth.png

    \b
    Fields (JSON and CSV): source, day (YYYY-MM-DD), followers, gained, lost.
    """
    if output is not None and fmt != "png":
        raise UsageProblem("--output: only --format png writes a file; redirect stdout for the others")
    if output is not None and not output.parent.is_dir():
        raise UsageProblem(f"--output: {output.parent} is not a folder")
    if fmt == "png" and charts_missing():
        raise UsageProblem(f"--format png needs matplotlib, the charts extra: {INSTALL_CHARTS}")
    settings = g.settings()
    since = SystemClock().now().date() - timedelta(days=days - 1)
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        rows = reports.growth(conn, since=since, source=source)
    empty = f"no growth data in the last {days} days: sync a source first"
    if fmt == "png":
        if not rows:
            click.echo(f"{empty}; no chart written")
            return
        path = output or Path(DEFAULT_CHART_PATH)
        try:
            draw_growth_chart(rows, path)
        except OSError as exc:
            raise UsageProblem(f"--output: cannot write {path}: {exc.strerror or exc}") from None
        click.echo(f"chart written to {path}")
        return
    columns = [
        column("source"),
        column("day"),
        column("followers", numeric=True),
        column("gained", numeric=True),
        column("lost", numeric=True),
        Column("net", lambda r: f"{r['gained'] - r['lost']:+d}", numeric=True),
    ]
    emit([dataclasses.asdict(r) for r in rows], fmt, fields=GROWTH_FIELDS, columns=columns, empty=empty)


@report_group.command("changes")
@_source_option("Only the followers of this source.")
@_since_option("changes")
@_format_option("table", "csv", "json")
@click.pass_obj
def changes_command(g: Globals, source: str | None, since: datetime | None, fmt: str) -> None:
    """Profile changes of followers (renames, new headline, gone private ...), newest first.

    A sync records a change when a listing brings another value of a tracked field than the one
    stored: LinkedIn name, headline and profile_url; Instagram username, name, is_private and
    is_verified (true/false). Picture URLs change on every listing and are not history. Seeing a
    follower for the first time is no change. A profile is shared by every source it follows: a
    follower of two sources has each change listed once per source.

    \b
    Examples:
      followersync report changes
      followersync report changes --source acme-page --since 2026-11-01
      followersync report changes --format json | jq '.[] | select(.field == "headline")'

    \b
    Fields (JSON and CSV): source, follower_id, field, old_value, new_value, changed_at.
    """
    settings = g.settings()
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        changes = reports.profile_changes(conn, source=source, since=since)
    columns = [
        column("changed_at", header="changed (UTC)"),
        column("source"),
        column("follower_id", header="follower id"),
        column("field"),
        column("old_value", header="old"),
        column("new_value", header="new"),
    ]
    empty = "no profile changes" + (f" since {human(since)} UTC" if since else "")
    emit([dataclasses.asdict(c) for c in changes], fmt, fields=CHANGE_FIELDS, columns=columns, empty=empty)
