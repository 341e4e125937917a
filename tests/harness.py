"""A sync set-up for tests: the simulator on a real socket, a migrated database, the real engine.

Only what is outside us is fake: the API (the simulator) and the clock (FakeClock, which the harness
moves forward a second before each sync, as time would between two scheduled runs).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from followersync import reports
from followersync.clock import FakeClock
from followersync.config import (
    PROVIDER_MAX_PAGE_SIZE,
    ApiSettings,
    DatabaseSettings,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
    sqlite_file,
)
from followersync.simulator import Simulator
from followersync.status import SourceStatus
from followersync.store import db, sqlite_status
from followersync.sync.fleet import Fleet
from followersync.sync.result import SourceResult
from followersync.sync.setup import open_sync

API_KEY = "pp_test_4f9a0c2e7b1d"


def make_settings(
    db_url: str,
    base_url: str,
    sources: Sequence[SourceConfig],
    *,
    page_size: int | None = None,
    budget: int = 0,
    min_interval: float = 0.0,
    **sync: Any,
) -> Settings:
    providers = {
        p: ProviderSettings(
            page_size=page_size or m, min_request_interval=min_interval, daily_request_budget=budget
        )
        for p, m in PROVIDER_MAX_PAGE_SIZE.items()
    }
    return Settings(
        api=ApiSettings(base_url=base_url, api_key=API_KEY, max_attempts=3, max_retry_wait=5.0),
        database=DatabaseSettings(url=db_url),
        sync=replace(SyncSettings(), **sync),
        providers=providers,
        sources=tuple(sources),
    )


class Harness:
    def __init__(
        self,
        db_url: str,
        sim: Simulator,
        sources: Sequence[SourceConfig],
        *,
        start: datetime | None = None,
        api: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        """`api` replaces `[api]` settings (timeout, base_url ...); the rest are `[sync]` settings or
        make_settings' own."""
        self.sim = sim
        self.settings = make_settings(db_url, sim.base_url, sources, **settings)
        if api:
            self.settings = replace(self.settings, api=replace(self.settings.api, **api))
        self.clock = FakeClock(start)
        self.engine = db.create_engine(db_url)
        db.migrate(self.engine)
        self._open = ExitStack()
        # The same set-up as `followersync sync` and the demo: sources, budget-gated client, runner.
        self.syncing = self._open.enter_context(
            open_sync(self.settings, self.engine, self.clock, holder="test-holder")
        )
        self.ids, self.client, self.runner = self.syncing.ids, self.syncing.client, self.syncing.runner

    def close(self) -> None:
        self._open.close()
        self.engine.dispose()

    def sync(
        self, mode: str = "auto", *, accept_unfollows: bool = False, names: Sequence[str] = ()
    ) -> list[SourceResult]:
        self.clock.advance(1)
        # A fleet of the settings as they are now: a test may have changed them (hooks, say) since.
        selected = [(s, self.ids[s.name]) for s in self.settings.select_sources(names)]
        return Fleet(self.runner, self.settings).sync(selected, mode=mode, accept_unfollows=accept_unfollows)

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta).total_seconds())

    # --- what the database says, through the public views -------------------------------------

    def query(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def active(self, source: str) -> set[str]:
        rows = self.query(
            "SELECT follower_id FROM v_followers WHERE source = :s AND unfollowed_at IS NULL", s=source
        )
        return {r.follower_id for r in rows}

    def events(self, source: str, event: str | None = None) -> list[tuple[str, str]]:
        rows = self.query(
            "SELECT follower_id, event FROM v_follow_events WHERE source = :s"
            " ORDER BY occurred_at, follower_id",
            s=source,
        )
        return [(r.follower_id, r.event) for r in rows if event is None or r.event == event]

    def runs(self, source: str) -> list[sa.Row[Any]]:
        return self.query(
            "SELECT r.* FROM sync_runs r JOIN sources s ON s.id = r.source_id"
            " WHERE s.name = :s ORDER BY r.id",
            s=source,
        )

    def checkpoint(self, source: str) -> sa.Row[Any] | None:
        rows = self.query(
            "SELECT c.* FROM sync_checkpoints c JOIN sources s ON s.id = c.source_id WHERE s.name = :s",
            s=source,
        )
        return rows[0] if rows else None


def write_config(
    path: Path,
    db_url: str,
    base_url: str,
    sources: Sequence[SourceConfig],
    extra: str = "",
    *,
    budget: int | None = None,
) -> Path:
    """A followersync.toml for CLI subprocess tests (no pacing, so tests do not wait)."""
    lines = [
        "[api]",
        f'base_url = "{base_url}"',
        "max_attempts = 2",
        'max_retry_wait = "2s"',
        "[database]",
        f'url = "{db_url}"',
    ]
    for provider in ("linkedin", "instagram"):
        lines += [f"[providers.{provider}]", 'min_request_interval = "0s"']
        if budget is not None:
            lines.append(f"daily_request_budget = {budget}")
    for s in sources:
        lines += [
            "[[sources]]",
            f'name = "{s.name}"',
            f'provider = "{s.provider}"',
            f'account_id = "{s.account_id}"',
        ]
        if s.user_id:
            lines.append(f'user_id = "{s.user_id}"')
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWERSYNC_", "POSTPRESS_"))}
    env["POSTPRESS_API_KEY"] = API_KEY
    env.update(extra)
    return env


# Set for the duration of a test marked `cli_in_process` (tests/conftest.py): `run_cli` then runs the
# command in this process (`invoke_cli`). For the modules whose tests are about what a command does
# with the database and the API, not about the process around it; an interpreter's start was a
# second or more of each such test. The process itself (the entry point, exit codes as a shell sees
# them, signals, start-up imports, concurrent processes) stays proven in subprocesses: `start_cli`
# always starts one, and so does `run_cli` in every test not so marked.
CLI_IN_PROCESS = False


def run_cli(
    args: Sequence[str], *, config: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real command line in a subprocess (in this process in a test marked `cli_in_process`)."""
    if CLI_IN_PROCESS:
        return invoke_cli(args, config=config, **env)
    return run_cli_process(args, config=config, timeout=timeout, **env)


def run_cli_process(
    args: Sequence[str], *, config: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real command line in a subprocess, `python -m followersync`, marked test or not."""
    argv = [sys.executable, "-m", "followersync"]
    if config is not None:
        argv += ["--config", str(config)]
    argv += ["--log-format", "json", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=cli_env(**env))


def invoke_cli(
    args: Sequence[str], *, config: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The command line in this process, through click's `CliRunner`: milliseconds instead of an
    interpreter's start (usage errors; `run_cli` in a test marked `cli_in_process`). The same argv,
    environment and global-option hoisting as `run_cli`; an exception that escapes the command is put
    on stderr as its traceback, as the interpreter would print it. The logging set-up the command
    makes (structlog's configuration, the secrets it registers) is undone afterwards, so that it
    cannot leak into the tests that follow in this process. `run_cli` remains the test of the real
    entry point (`python -m followersync`)."""
    import traceback

    import structlog
    from click.testing import CliRunner

    import followersync
    from followersync import logging as fslogging
    from followersync.cli import cli, hoist_global_options

    argv = [] if config is None else ["--config", str(config)]
    argv += ["--log-format", "json", *args]
    overrides: dict[str, str | None] = dict.fromkeys(
        (k for k in os.environ if k.startswith(("FOLLOWERSYNC_", "POSTPRESS_"))), None
    )
    overrides |= {"POSTPRESS_API_KEY": API_KEY, **env}
    saved_config, saved_secrets, saved_argv = structlog.get_config(), list(fslogging._secrets), sys.argv
    saved_hooks = threading.excepthook, sys.unraisablehook
    # As `python -m followersync` starts it: the hints a command prints name the program by argv[0],
    # and an exception escaping one of its threads is printed on its stderr (pytest would otherwise
    # take it for a warning of its own, where a test's "no Traceback" could not see it).
    sys.argv = [str(Path(followersync.__file__).with_name("__main__.py")), *argv]
    threading.excepthook, sys.unraisablehook = threading.__excepthook__, sys.__unraisablehook__
    try:
        result = CliRunner().invoke(cli, hoist_global_options(argv), prog_name="followersync", env=overrides)
    finally:
        structlog.configure(**saved_config)
        fslogging._secrets[:] = saved_secrets
        sys.argv = saved_argv
        threading.excepthook, sys.unraisablehook = saved_hooks
    stderr = result.stderr
    if (
        result.exception is not None
        and result.exc_info is not None
        and not isinstance(result.exception, SystemExit)
    ):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return subprocess.CompletedProcess(argv, result.exit_code, result.stdout, stderr)


def start_cli(args: Sequence[str], *, config: Path, **env: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "followersync", "--config", str(config), "--log-format", "json", *args]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(**env)
    )


def query(db_url: str, sql: str) -> list[sa.Row[Any]]:
    """Rows of `sql` on the database at `db_url`, through a connection of its own."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)))
    finally:
        engine.dispose()


def wait_until(db_url: str, sql: str, timeout: float = 60.0) -> None:
    """Poll until `sql` returns a row (a subprocess's progress), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if query(db_url, sql):
                return
        except sa.exc.DBAPIError:  # the subprocess has not created the schema yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"never true within {timeout}s: {sql}")


def wait_for_leases_to_expire(db_url: str, timeout: float = 60.0) -> None:
    """Poll until every lease in `db_url` has run out (its `expires_at` is past): what a killed
    process leaves `sync.lease_ttl` after its last renewal. Waits only as long as the leases have left,
    not a fixed guess at it; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        ends = [r.expires_at for r in query(db_url, "SELECT expires_at FROM account_leases")]
        # PostgreSQL gives timestamptz; SQLite, naive UTC text (followersync/store/types.py).
        ends = [datetime.fromisoformat(str(end)) if isinstance(end, str) else end for end in ends]
        now = datetime.now(UTC)
        left = [(end if end.tzinfo else end.replace(tzinfo=UTC)) - now for end in ends]
        if all(d < timedelta(0) for d in left):
            return
        assert time.monotonic() < deadline, f"a lease was still live after {timeout}s"
        time.sleep(min(0.05, max(d.total_seconds() for d in left) + 0.005))


def source_states(engine: sa.Engine, ids: Sequence[int], now: datetime) -> list[SourceStatus]:
    """`reports.status` of `ids`; on SQLite, also read as `followersync status` reads a SQLite file
    (the sqlite3 driver alone, followersync/store/sqlite_status.py), which must give the same records."""
    with engine.connect() as conn:
        states = reports.status(conn, ids, now)
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is not None:
        reading = sqlite_status.open_reading(path)
        try:
            assert sqlite_status.status(reading, ids, now) == states
        finally:
            reading.close()
    return states
