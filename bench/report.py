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

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")


def format_table(measures: dict[str, Measure]) -> str:
    """The measures as a Markdown table, then every scenario's notes."""
    base = measures.get("baseline")
    head = ["scenario", "metric", "median", "min", "max", "requests", "peak RSS", "x baseline", "goal"]
    rows: list[list[str]] = []
    for m in measures.values():
        ratio = (
            f"{m.median / base.median:.2f}"
            if base is not None and m.metric == "followers/s" and m.values
            else ""
        )
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
                f"{max(m.rss_kb) / 1024:.0f} MB",
                ratio,
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
            names = ("shared_buffers", "synchronous_commit", "fsync", "wal_writer_delay", "max_wal_size")
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
