"""Output, shared by every command: a table for people (rich measures wide characters), JSON and CSV
for scripts. One renderer, `emit`, so the machine formats follow the same rules everywhere:

- `--format json` prints one JSON array on stdout and nothing else (logs go to stderr);
- CSV has the JSON fields as columns, with a header row;
- times are ISO 8601 with an offset (UTC), days YYYY-MM-DD, numbers are numbers;
- what followers and the API wrote reaches the output only through followersync.text: tables show it
  `printable` and cut to their column's width, JSON keeps it exact, CSV exact but spreadsheet-safe
  unless `--csv-raw` (docs/semantics.md#what-followersync-prints).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import click

from followersync import text


@dataclass(frozen=True)
class Column:
    """One column of a human-readable table: its header and how a record shows in it."""

    header: str
    cell: Callable[[Mapping[str, Any]], str]
    numeric: bool = False  # right-aligned
    # At most this many display columns, the rest cut with `…` (None: never cut). Set on columns of
    # text someone else wrote, so one 300-character name does not make its column 300 wide for every
    # row; the last column (a note) may stay whole, since nothing comes after it.
    width: int | None = None


# Widths of the columns that show what followers wrote: a name or a headline reads in 40 columns;
# a handle (an Instagram username, a LinkedIn profile URL) or an id is wanted whole more often.
TEXT_WIDTH = 40
LINK_WIDTH = 60


def column(
    name: str, *, numeric: bool = False, header: str | None = None, width: int | None = None
) -> Column:
    """A column that shows one field of the record as it is (times as UTC, None as `-`)."""
    return Column(header or name, lambda record: human(record[name]), numeric, width)


def emit(
    records: Sequence[Mapping[str, Any]],
    fmt: str,
    *,
    fields: Sequence[str],
    columns: Sequence[Column],
    empty: str,
    csv_raw: bool = False,
) -> None:
    """Print `records` as `fmt` (json, csv or table); `empty` is the table's text when there are none.

    `csv_raw`: CSV cells exactly as stored, without the leading `'` that keeps a spreadsheet from
    running a cell as a formula (`--csv-raw`, for programs).
    """
    if fmt == "json":
        click.echo(text.json_text([jsonable(dict(r)) for r in records]))
    elif fmt == "csv":
        writer = csv.writer(_LineFeedRows(), lineterminator="\r\n")
        writer.writerow(fields)
        writer.writerows([csv_cell(record[name], raw=csv_raw) for name in fields] for record in records)
    elif not records:
        click.echo(empty)
    else:
        print_table(columns, records)


class _LineFeedRows:
    """Where the CSV writer writes: stdout, each row ending in "\n" rather than csv's "\r\n", since
    the output goes to shells and pipes first.

    The writer itself is told "\r\n": it quotes a field holding a character of its line terminator,
    so told "\n" it would leave a name's lone carriage return bare, and a reader would end the row
    there. It writes each row whole, terminator last, and only that terminator is replaced.
    """

    def write(self, row: str) -> int:
        return sys.stdout.write(row.removesuffix("\r\n") + "\n")


def print_table(columns: Sequence[Column], records: Sequence[Mapping[str, Any]]) -> None:
    """The table every command prints for people: a header row, then one line per record.

    Plain and stable, for scripts and tests as much as for eyes: no borders or colours, two spaces
    between columns, text left and numbers right, never wrapped, no trailing spaces. Every cell goes
    through `text.cell`: on one line, no control or bidi character raw, cut with `…` at its column's
    `width`. Widths are display widths, as rich measures them: 김민준 and 📈 take two columns a
    character, so the columns after a Korean name or an emoji still line up.

    Laid out here with rich's measure rather than by rich's Table, which takes seconds for the tens
    of thousands of rows an unfollow report can have; rich is imported here, not at the top, so that
    `followersync --help` (or a worker) does not pay for loading it.
    """
    from rich.cells import cell_len

    rows = [[c.header for c in columns]] + [
        [text.cell(c.cell(record), c.width) for c in columns] for record in records
    ]
    widths = [max(cell_len(row[i]) for row in rows) for i in range(len(columns))]
    for row in rows:
        cells = [
            " " * (width - cell_len(cell)) + cell if c.numeric else cell + " " * (width - cell_len(cell))
            for c, cell, width in zip(columns, row, widths, strict=True)
        ]
        click.echo("  ".join(cells).rstrip())


def iso(value: datetime) -> str:
    """ISO 8601 with an offset. Naive values are UTC: SQLite hands some back without their zone."""
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """A CSV cell: the JSON value (nested ones as JSON text), safe for a spreadsheet unless `raw`."""
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        value = json.dumps(jsonable(value), ensure_ascii=False)
    return text.csv_value(jsonable(value), raw=raw)


def human(value: Any) -> str:
    """A value as a table shows it: times in UTC to the second, nothing as `-`."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return iso(value)[:19].replace("T", " ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None or finished is None:
        return "-"
    seconds = max(0, round((finished - started).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The `--format` option of a command that prints records as `choices` (table first)."""
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


def csv_raw_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--csv-raw` (a fixed name: scripts rely on it), for every command with `--format csv`."""
    return click.option(
        "--csv-raw",
        is_flag=True,
        help=(
            "With --format csv: write every value exactly as stored. Without it, a cell that starts "
            "with =, +, -, @, a tab or a carriage return gets a leading ' so that a spreadsheet shows "
            "it as text instead of running it as a formula."
        ),
    )
