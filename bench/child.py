"""The benchmark's measured child: one pass (or the COPY baseline) in a fresh process.

    python bench/child.py < spec.json   # started by bench/parent.py (`Bench.child`), not by hand

It reads its spec as JSON on stdin, runs the pass (or the COPY), and writes its result as JSON to the
file `spec["result_path"]`: the pass's wall time, what it wrote, its database time (`TxTimer`) and
its peak memory (`peak_rss_kb`). Set-up (database, migrations, sources) and the simulator are the
parent's (bench/parent.py), so the child measures the pass and nothing else.

Kept apart from the parent for two reasons: its peak memory is the pass's, so it imports only what
the pass needs; and bench/ab.py runs this file against older checkouts of followersync (through
PYTHONPATH), so it may use only the package API those have too (`PassRunner`, `Fleet`,
`build_client`, `db`, `SystemClock`, the settings classes), never anything newer.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The key the parent's simulator is started with (bench/parent.py imports it from here).
API_KEY = "bench-key-0123456789"


class TxTimer:
    """Sums the time from each transaction's BEGIN to the end of its COMMIT (or ROLLBACK).

    SQLAlchemy's `begin` event marks the start; the end is the DBAPI commit itself, so the commit's
    own round trip and fsync are counted (the `commit` event fires before it).
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.seconds = 0.0
        self.count = 0
        self._open: dict[int, float] = {}
        self._lock = threading.Lock()
        sa.event.listen(engine, "begin", self._begin)
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_conn: Any) -> None:
            try:
                commit(dbapi_conn)
            finally:
                self._end(dbapi_conn)

        def do_rollback(dbapi_conn: Any) -> None:
            try:
                rollback(dbapi_conn)
            finally:
                self._end(dbapi_conn)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _begin(self, conn: sa.Connection) -> None:
        key = id(conn.connection.dbapi_connection)
        with self._lock:
            self._open[key] = time.perf_counter()

    def _end(self, conn: Any) -> None:
        now = time.perf_counter()
        # SQLAlchemy hands the dialect its pool's proxy; the begin event saw the DBAPI connection.
        key = id(getattr(conn, "dbapi_connection", conn))
        with self._lock:
            started = self._open.pop(key, None)
            if started is not None:
                self.seconds += now - started
                self.count += 1


def _child_settings(spec: dict[str, Any]) -> Any:
    from followersync.config import (
        PROVIDER_MAX_PAGE_SIZE,
        ApiSettings,
        DatabaseSettings,
        ProviderSettings,
        Settings,
        SourceConfig,
        SyncSettings,
    )

    providers = {
        p: ProviderSettings(page_size=m, min_request_interval=0.0, daily_request_budget=0)
        for p, m in PROVIDER_MAX_PAGE_SIZE.items()
    }
    sources = tuple(
        SourceConfig(name=s["name"], provider=s["provider"], account_id=s["account_id"])
        for s in spec["sources"]
    )
    return Settings(
        api=ApiSettings(base_url=spec["base_url"], api_key=API_KEY),
        database=DatabaseSettings(url=spec["db_url"]),
        sync=SyncSettings(concurrency=spec.get("concurrency", 1)),
        providers=providers,
        sources=sources,
    )


def child_pass(spec: dict[str, Any]) -> dict[str, Any]:
    """One pass of one source (`runner.run`), or of many through the `Fleet` when spec["fleet"]."""
    try:
        from followersync import allocator
    except ImportError:  # a version from before it (bench/ab.py compares with older ones)
        pass
    else:
        allocator.return_large_buffers()  # as the `followersync` command does when it starts
    from followersync.clock import SystemClock
    from followersync.store import db

    PassRunner, Fleet, build_client = _sync_classes()

    settings = _child_settings(spec)
    engine = db.create_engine(spec["db_url"])
    timer = TxTimer(engine)
    clock = SystemClock()
    client = build_client(settings, engine, clock)
    runner = PassRunner(engine, client, settings, clock, holder=f"bench:{os.getpid()}")
    ids = {s["name"]: s["id"] for s in spec["sources"]}
    pairs = [(s, ids[s.name]) for s in settings.sources]
    rss_before = peak_rss_kb()  # interpreter, imports, settings: what the pass starts from
    started = time.perf_counter()
    if spec.get("fleet"):
        results = Fleet(runner, settings).sync(pairs, mode=spec["mode"])
    else:
        [(source, source_id)] = pairs
        results = [runner.run(source, source_id, mode=spec["mode"])]
    seconds = time.perf_counter() - started
    client.close()
    engine.dispose()
    return {
        "seconds": seconds,
        "items": sum(r.items for r in results),
        "pages": sum(r.pages for r in results),
        "new": sum(r.new for r in results),
        # getattr: bench/ab.py runs this child against older versions, which had no missing count.
        "missing": sum(getattr(r, "missing", 0) for r in results),
        "lost": sum(r.lost for r in results),
        "requests": sum(r.requests for r in results),
        "statuses": sorted({r.status for r in results}),
        "errors": sorted({f"{r.error_type}: {r.message}" for r in results if r.error_type}),
        "run_ids": [r.run_id for r in results],
        "db_seconds": timer.seconds,
        "transactions": timer.count,
        "rss_before_kb": rss_before,
        "rss_kb": peak_rss_kb(),
    }


def peak_rss_kb() -> int:
    """This process's peak resident set size, in KiB: VmHWM, the high-water mark of its own memory.

    Not `ru_maxrss`: Linux carries the parent's high-water mark into a child across fork and exec
    (the child starts as a copy of the parent, or shares it under vfork), so a child of this
    process, whose simulator holds every listing, would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def _sync_classes() -> tuple[Any, Any, Any]:
    """PassRunner, Fleet and build_client wherever the measured version keeps them (bench/ab.py runs
    this child against older versions: followersync/sync/ since issue 23, passes.py and worker.py
    before, engine.py before that)."""
    try:
        from followersync.sync.fleet import Fleet
        from followersync.sync.runner import PassRunner
        from followersync.sync.setup import build_client
    except ImportError:
        from followersync.worker import Fleet, build_client  # type: ignore[import-not-found,no-redef]

        try:
            from followersync.passes import PassRunner  # type: ignore[import-not-found,no-redef]
        except ImportError:
            from followersync.engine import PassRunner  # type: ignore[import-not-found,no-redef]
    return PassRunner, Fleet, build_client


def child_copy(spec: dict[str, Any]) -> dict[str, Any]:
    """The physical limit: the source's rows binary-COPYed into a table with a primary key."""
    import psycopg
    from psycopg.types.json import Jsonb

    from followersync.api.client import RequestStats
    from followersync.clock import SystemClock
    from followersync.store import db

    _, _, build_client = _sync_classes()

    settings = _child_settings(spec)
    [source] = settings.sources
    engine = db.create_engine(spec["db_url"])
    client = build_client(settings, engine, SystemClock())
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    for page in client.pages(source, cursor=None, limit=200, stats=RequestStats()):
        for item, raw in zip(page.items, page.raw_items, strict=True):
            assert type(item).__name__ == "InstagramFollower"  # wherever the version defines it
            rows.append(
                (
                    item.id,
                    item.messaging_id,
                    item.username,
                    item.name,
                    item.profile_picture_url,
                    item.is_private,
                    item.is_verified,
                    Jsonb(raw.decode()),
                    now,
                    now,
                )
            )
    client.close()
    engine.dispose()
    dsn = sa.make_url(spec["db_url"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            # The shape of instagram_profiles: only id and raw are sure (an empty name is NULL).
            "CREATE TABLE copy_baseline (id text PRIMARY KEY, messaging_id text,"
            " username text, name text, profile_picture_url text,"
            " is_private boolean, is_verified boolean, raw jsonb NOT NULL,"
            " first_seen_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY copy_baseline (id, messaging_id, username, name, profile_picture_url, is_private,"
                " is_verified, raw, first_seen_at, updated_at) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            text, flag, time_ = "text", "bool", "timestamptz"
            copy.set_types([text, text, text, text, text, flag, flag, "jsonb", time_, time_])
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "items": len(rows),
        "requests": 0,
        "rss_kb": peak_rss_kb(),
    }


def child_main() -> None:
    from followersync import logging as fs_logging

    # Warnings and errors only, to stderr: stdout carries the result.
    fs_logging.configure("json", stream=sys.stderr, level="warning")
    spec = json.loads(sys.stdin.read())
    result = child_copy(spec) if spec["kind"] == "copy" else child_pass(spec)
    Path(spec["result_path"]).write_text(json.dumps(result))


if __name__ == "__main__":
    child_main()
