"""What the benchmark prints: one `Measure` per table row, the table itself, and the header that says
on what machine and settings the figures were taken.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa


@dataclass
class Measure:
    """One scenario's row of the table: its repeats, and what was checked."""

    scenario: str
    metric: str  # what `values` are: "followers/s", "DB ms", "s", "MB"
    values: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    goal: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)
    higher_is_better: bool = True
    # The dlt row this rate is compared with ("dlt first" or "dlt second"), for the `x dlt` column.
    anchor: str = ""
    # Why the scenario has no figures (dlt could not be installed, or failed); empty when measured.
    unmeasured: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")


@dataclass
class Goal:
    """A goal judged by a ratio between two rows of the table (the goals against dlt)."""

    text: str  # "first pass >= 3x dlt"
    figure: str  # "3.41x (61,000 / 17,900 followers/s)", or why it could not be judged
    met: bool | None = None  # None: not judged (a row is not measured)


def ratio(m: Measure, other: Measure | None) -> str:
    """`m`'s median over `other`'s, for the x COPY and x dlt columns; "" when either has no rate."""
    if other is None or m.metric != "followers/s" or not m.values:
        return ""
    if not other.values:
        return "n/a"
    return f"{m.median / other.median:.2f}"


def format_table(measures: dict[str, Measure]) -> str:
    """The measures as a Markdown table, then every scenario's notes.

    `x COPY` is each rate over the binary-COPY baseline's, `x dlt` over the dlt row named in brackets
    (first passes over dlt's first pass, passes over an existing table over dlt's second), all of
    one run.
    """
    base = measures.get("baseline")
    head = ["scenario", "metric", "median", "min", "max", "requests", "peak RSS", "x COPY", "x dlt", "goal"]
    rows: list[list[str]] = []
    for m in measures.values():
        if m.unmeasured:
            rows.append([m.scenario, m.metric, f"not measured: {m.unmeasured}", *[""] * 6, m.goal])
            continue
        vs_dlt = ratio(m, measures.get(m.anchor)) if m.anchor else ""
        if vs_dlt:
            vs_dlt += f" ({m.anchor})"
        fmt = "{:,.0f}" if m.metric == "followers/s" else "{:,.1f}"
        verdict = "" if m.met is None else ("met" if m.met else "NOT met")
        rows.append(
            [
                m.scenario,
                m.metric,
                fmt.format(m.median),
                fmt.format(min(m.values)),
                fmt.format(max(m.values)),
                "/".join(sorted({str(r) for r in m.requests})),
                f"{max(m.rss_kb) / 1024:.0f} MB" if m.rss_kb else "",
                ratio(m, base),
                vs_dlt,
                f"{m.goal}: {verdict}" if verdict else m.goal,
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)] if rows else []
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    notes = [f"- {m.scenario}: {note}" for m in measures.values() for note in m.notes]
    return "\n".join(lines + (["", *notes] if notes else []))


def format_goals(goals: list[Goal]) -> str:
    """The goals against dlt as a Markdown table: each with its figure and verdict."""
    head = ["goal against dlt", "figure", "verdict"]
    rows = [
        [g.text, g.figure, "not judged" if g.met is None else ("met" if g.met else "NOT met")] for g in goals
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    return "\n".join(
        lines + ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    )


def machine(pg_url: str) -> str:
    """The machine and the settings that decide the figures, for the top of the output."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        engine = sa.create_engine(pg_url)
        with engine.connect() as conn:
            pg = str(conn.execute(sa.text("SHOW server_version")).scalar_one())
            names = (
                "shared_buffers",
                "synchronous_commit",
                "fsync",
                "wal_writer_delay",
                "max_wal_size",
                "autovacuum",  # off on this machine's server (its conf.d): no vacuum competes with a pass
            )
            settings = ", ".join(f"{n}={conn.execute(sa.text(f'SHOW {n}')).scalar_one()}" for n in names)
        engine.dispose()
    except sa.exc.DBAPIError as exc:
        pg, settings = f"unreachable ({type(exc).__name__})", ""
    import psycopg

    return (
        f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; SQLAlchemy {sa.__version__}, psycopg {psycopg.__version__}\n"
        f"PostgreSQL {pg} ({settings}); SQLite {sqlite3.sqlite_version}\n"
        f"load average at start: {load()}"
    )


def load() -> str:
    """The 1-, 5- and 15-minute load averages: anything else running skews the figures."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def record(path: Path, title: str, output: str) -> None:
    """Put a run's whole output into the results file `path` as a section of its own, `title`,
    above the earlier dated sections (the newest first), so that `make bench` leaves its figures
    where they are read."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    section = f"## {title}\n\nWritten by the run itself:\n\n```\n{output.rstrip()}\n```\n\n"
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if line.startswith("## 20")), len(lines))
    path.write_text("".join(lines[:at]) + section + "".join(lines[at:]), encoding="utf-8")
