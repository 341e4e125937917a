"""The reading commands `runs`, `report unfollows`, `report growth` and `report changes` (`status`,
which people and cron jobs run most, starts quicker from a module of its own: status_command.py).

They read what `reports` returns and print it as a table (for people), CSV or JSON (for scripts:
the README's "Reports and status") or, for growth, a PNG chart. One small renderer, `emit`, serves
all of them, so the machine formats follow the same rules everywhere:

- `--format json` prints one JSON array on stdout and nothing else (logs go to stderr);
- CSV has the JSON fields as columns, with a header row;
- times are ISO 8601 with an offset (UTC), days YYYY-MM-DD, numbers are numbers;
- CSV cells that a spreadsheet would run as a formula get a leading `'`, unless `--csv-raw`;
- a table shows what followers wrote on one line, no control character raw, cut to its column's
  width (followersync.text; docs/semantics.md#what-followersync-prints).

None of these commands calls the API, so none needs the API key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from followersync import reports
from followersync.cli.chart import (
    DEFAULT_CHART_PATH,
    INSTALL_CHARTS,
    chart_format,
    charts_missing,
    draw_growth_chart,
)
from followersync.cli.common import Globals, UsageProblem, open_database
from followersync.cli.render import (
    LINK_WIDTH,
    TEXT_WIDTH,
    Column,
    column,
    csv_raw_option,
    duration,
    emit,
    format_option,
    human,
)
from followersync.clock import SystemClock
from followersync.config import Settings

UNFOLLOW_FIELDS = ("source", "follower_id", "name", "handle", "unfollowed_at")


GROWTH_FIELDS = ("source", "day", "followers", "gained", "lost")


CHANGE_FIELDS = ("source", "follower_id", "field", "old_value", "new_value", "changed_at")


RUNS_FIELDS = ("source", *reports.RUN_FIELDS)


def _check_csv_raw(fmt: str, csv_raw: bool) -> None:
    """--csv-raw with another format is a mistake worth saying, not an option silently ignored."""
    if csv_raw and fmt != "csv":
        raise UsageProblem("--csv-raw: only --format csv writes CSV")


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


@click.command("runs")
@_source_option("Only the runs of this source.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs, newest first."
)
@format_option("table", "json")
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
        Column("error", _run_error, width=80),
    ]
    emit(history, fmt, fields=RUNS_FIELDS, columns=columns, empty="no runs yet")


def _run_error(run: Mapping[str, Any]) -> str:
    if not run["error_type"]:
        return ""
    detail = run["error_detail"] if isinstance(run["error_detail"], Mapping) else {}
    text = detail.get("title") or detail.get("detail")
    return f"{run['error_type']}: {text}" if text else str(run["error_type"])


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
@format_option("table", "csv", "json")
@csv_raw_option()
@click.pass_obj
def unfollows_command(
    g: Globals, source: str | None, since: datetime | None, fmt: str, csv_raw: bool
) -> None:
    """Who unfollowed, and when (newest first). Followers who came back are not listed.

    \b
    Examples:
      followersync report unfollows
      followersync report unfollows --source brand-ig --since 2026-11-01
      followersync report unfollows --since 2026-11-20T08:00:00+01:00 --format csv > unfollows.csv

    \b
    Fields (JSON and CSV): source, follower_id, name, handle (Instagram username, LinkedIn profile
    URL), unfollowed_at.

    Names and handles are the followers' own: the table shows them on one line with control
    characters escaped and cuts long ones with …; JSON has them exactly; CSV exactly, but a cell that
    starts with =, +, -, @, a tab or a carriage return gets a leading ' (--csv-raw: none).
    """
    _check_csv_raw(fmt, csv_raw)
    settings = g.settings()
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        gone = reports.unfollows(conn, source=source, since=since)
    columns = [
        column("unfollowed_at", header="unfollowed (UTC)"),
        column("source"),
        column("name", width=TEXT_WIDTH),
        column("handle", width=LINK_WIDTH),
        column("follower_id", header="follower id", width=LINK_WIDTH),
    ]
    empty = "no unfollows" + (f" since {human(since)} UTC" if since else "")
    records = [dataclasses.asdict(u) for u in gone]
    emit(records, fmt, fields=UNFOLLOW_FIELDS, columns=columns, empty=empty, csv_raw=csv_raw)


@report_group.command("growth")
@_source_option("Only this source.")
@click.option(
    "--days",
    type=click.IntRange(min=1, max=36600),
    default=30,
    show_default=True,
    help="How many UTC days, today included.",
)
@format_option("table", "csv", "json", "png")
@csv_raw_option()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where --format png writes the chart (default: ./{DEFAULT_CHART_PATH}).",
)
@click.pass_obj
def growth_command(
    g: Globals, source: str | None, days: int, fmt: str, csv_raw: bool, output: Path | None
) -> None:
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
    Fields (JSON and CSV): source, day (YYYY-MM-DD), followers, gained, lost. A CSV cell that
    starts with =, +, -, @, a tab or a carriage return gets a leading ' (--csv-raw: none).
    """
    _check_csv_raw(fmt, csv_raw)
    if output is not None and fmt != "png":
        raise UsageProblem("--output: only --format png writes a file; redirect stdout for the others")
    if output is not None and not output.parent.is_dir():
        raise UsageProblem(f"--output: {output.parent} is not a folder")
    if output is not None:
        chart_format(output)  # a name the chart cannot be written as is refused before any query
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
    records = [dataclasses.asdict(r) for r in rows]
    emit(records, fmt, fields=GROWTH_FIELDS, columns=columns, empty=empty, csv_raw=csv_raw)


@report_group.command("changes")
@_source_option("Only the followers of this source.")
@_since_option("changes")
@format_option("table", "csv", "json")
@csv_raw_option()
@click.pass_obj
def changes_command(g: Globals, source: str | None, since: datetime | None, fmt: str, csv_raw: bool) -> None:
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

    The values are the followers' own: the table shows them on one line with control characters
    escaped and cuts long ones with …; JSON has them exactly; CSV exactly, but a cell that starts
    with =, +, -, @, a tab or a carriage return gets a leading ' (--csv-raw: none).
    """
    _check_csv_raw(fmt, csv_raw)
    settings = g.settings()
    with open_database(settings, schema="required") as engine, engine.connect() as conn:
        _check_source(conn, settings, source)
        changes = reports.profile_changes(conn, source=source, since=since)
    columns = [
        column("changed_at", header="changed (UTC)"),
        column("source"),
        column("follower_id", header="follower id", width=LINK_WIDTH),
        column("field"),
        # A profile_url change is a URL: as wide as a handle.
        column("old_value", header="old", width=LINK_WIDTH),
        column("new_value", header="new", width=LINK_WIDTH),
    ]
    empty = "no profile changes" + (f" since {human(since)} UTC" if since else "")
    records = [dataclasses.asdict(c) for c in changes]
    emit(records, fmt, fields=CHANGE_FIELDS, columns=columns, empty=empty, csv_raw=csv_raw)
