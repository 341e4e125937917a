"""The `growth` scenario: `v_follower_growth_daily` at fleet scale, before and after the daily sums.

It builds its own data set, a year of history of 50 sources written straight into `follow_events`
(a baseline on the first day, then follows and unfollows every day), into a database at revision
0004, whose view sums every event. It times the dashboard queries there, upgrades to the newest
revision (which sums the stored events into `daily_growth`: that is timed too) and times them again,
then checks that both views return exactly the same rows.

The queries, each the median of QUERY_RUNS after one warm-up, through SQLAlchemy and fetching every
row as a dashboard would:
- `one source, a year`: `WHERE source = 's07' AND day >= <a year ago>` (goal <= 20 ms)
- `all sources, 90 days`: `WHERE day >= <90 days ago>` (goal <= 200 ms)
- `report growth`: `reports.growth(source='s07', since=<30 days ago>)`, what `report growth
  --source s07 --days 30` runs
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

SOURCES = 50
DAYS = 365
QUERY_RUNS = 9
GOALS_MS = {"one source, a year": 20.0, "all sources, 90 days": 200.0}
# Events per source: PostgreSQL 12.3 million in all (the fleet), SQLite 2 million.
SHAPES = {"pg": (126_000, 330), "sqlite": (20_000, 55)}  # (baseline followers, events a day)


def shape(kind: str, scale: float) -> tuple[int, int]:
    """(baseline followers, events a day) of each source, scaled (`--growth-scale`, for the smoke
    test); at least three events a day, so that every day has an unfollow."""
    baseline, daily = SHAPES[kind]
    return max(1, round(baseline * scale)), max(3, round(daily * scale))


def events_total(kind: str, scale: float) -> int:
    baseline, daily = shape(kind, scale)
    return SOURCES * (baseline + (DAYS - 1) * daily)


def build(engine: sa.Engine, kind: str, scale: float) -> None:
    """Register the sources and write their year of events (the schema must be at 0004)."""
    from followersync.config import SourceConfig
    from followersync.store import sources

    first = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(days=DAYS - 1)
    configs = [
        SourceConfig(name=f"s{i:02d}", provider="instagram", account_id=f"acc_{i:02d}")
        for i in range(1, SOURCES + 1)
    ]
    with engine.begin() as conn:
        sources.reconcile_sources(conn, configs, first)
    baseline, daily = shape(kind, scale)
    with engine.begin() as conn:
        if kind == "pg":
            _build_pg(conn, first, baseline, daily)
        else:
            _build_sqlite(conn, first, baseline, daily)
    if kind == "pg":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE follow_events")


def _build_pg(conn: sa.Connection, first: datetime, baseline: int, daily: int) -> None:
    # Every third event of a day is an unfollow (of a follower of an earlier day: the id says so).
    conn.execute(
        sa.text(
            "INSERT INTO follow_events (source_id, follower_id, event, occurred_at, run_id)"
            " SELECT s.id, 'b' || i, 'baseline', :first + i * interval '10 ms', 1"
            " FROM sources s, generate_series(1, :baseline) i"
        ),
        {"first": first, "baseline": baseline},
    )
    conn.execute(
        sa.text(
            "INSERT INTO follow_events (source_id, follower_id, event, occurred_at, run_id)"
            " SELECT s.id, 'f' || d || '_' || i, CASE WHEN i % 3 = 0 THEN 'unfollow' ELSE 'follow' END,"
            "        :first + d * interval '1 day' + i * interval '1 minute', 1 + d"
            " FROM sources s, generate_series(1, :days) d, generate_series(1, :daily) i"
        ),
        {"first": first, "days": DAYS - 1, "daily": daily},
    )


def _build_sqlite(conn: sa.Connection, first: datetime, baseline: int, daily: int) -> None:
    ids = [row.id for row in conn.execute(sa.text("SELECT id FROM sources"))]
    insert = (
        "INSERT INTO follow_events (source_id, follower_id, event, occurred_at, run_id)"
        " VALUES (?, ?, ?, ?, ?)"
    )

    def at(moment: datetime) -> str:  # as SQLAlchemy writes a UTC timestamp on SQLite
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    for source_id in ids:
        rows: list[tuple[Any, ...]] = [
            (source_id, f"b{i}", "baseline", at(first + timedelta(milliseconds=10 * i)), 1)
            for i in range(1, baseline + 1)
        ]
        rows += [
            (
                source_id,
                f"f{d}_{i}",
                "unfollow" if i % 3 == 0 else "follow",
                at(first + timedelta(days=d, minutes=i)),
                1 + d,
            )
            for d in range(1, DAYS)
            for i in range(1, daily + 1)
        ]
        conn.exec_driver_sql(insert, rows)


def queries() -> dict[str, Callable[[sa.Connection], list[Any]]]:
    """The dashboard's queries, by name, each returning every row."""
    from followersync import reports

    today = datetime.now(UTC).date()

    def view(where: str, **params: Any) -> Callable[[sa.Connection], list[Any]]:
        sql = sa.text(f"SELECT * FROM v_follower_growth_daily WHERE {where}")
        return lambda conn: list(conn.execute(sql, params))

    return {
        "one source, a year": view("source = :s AND day >= :since", s="s07", since=today - timedelta(DAYS)),
        "all sources, 90 days": view("day >= :since", since=today - timedelta(90)),
        "report growth": lambda conn: reports.growth(conn, since=today - timedelta(30), source="s07"),
    }


def time_queries(engine: sa.Engine) -> dict[str, list[float]]:
    """Each query's times in ms (QUERY_RUNS, after a warm-up), and its rows checked non-empty."""
    times: dict[str, list[float]] = {}
    with engine.connect() as conn:
        for name, run in queries().items():
            if not run(conn):
                raise RuntimeError(f"growth: {name!r} returned no row")
            times[name] = []
            for _ in range(QUERY_RUNS):
                started = time.perf_counter()
                run(conn)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def whole_view(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every row of the view, in a stable order, days as dates: what 'exact' compares."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT * FROM v_follower_growth_daily ORDER BY source, day"))
        return [
            (r.source, r.day if isinstance(r.day, date) else date.fromisoformat(r.day), *map(int, r[2:]))
            for r in rows
        ]
