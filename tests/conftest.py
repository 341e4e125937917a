"""Shared fixtures: fresh databases (SQLite and the real PostgreSQL).

PostgreSQL tests use FOLLOWERSYNC_TEST_PG_URL (default: the local server, user postgres, database test)
and create a throwaway database per test. Without a server they skip, saying how to run them, except
under CI=true, where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa

from tests import harness

pytest_plugins = [
    "tests.sim_support",  # make_sim: simulators stopped after the test (page_support imports it)
    "tests.page_support",  # fixtures of the page tests: engine, ctx
    "tests.config_support",  # own_working_directory: the configuration tests' own folder
]

PG_ADMIN_URL = os.environ.get("FOLLOWERSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_pg_checked: str | None = None  # "" when reachable, else the reason


def _pg_problem() -> str:
    global _pg_checked
    if _pg_checked is None:
        try:
            engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_checked = ""
        except Exception as exc:
            _pg_checked = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return _pg_checked


def require_postgres() -> None:
    problem = _pg_problem()
    if not problem:
        return
    message = (
        f"PostgreSQL not reachable at {PG_ADMIN_URL} ({problem}). Start it "
        "(e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) or set "
        "FOLLOWERSYNC_TEST_PG_URL, then rerun; `bash .ci/run` does this for you."
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL database, dropped after the test. It commits without
    waiting for the disk, unless the test is marked `durable_commits` (the server's own default)."""
    require_postgres()
    name = f"fs_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # A commit returns before its WAL reaches the disk: what a transaction sees, and what other
        # connections see after its commit, are unchanged; only a crash of the server itself could
        # lose the last commits, and no test crashes the server (tests/faults/test_database_loss.py
        # ends connections). The throwaway database's fsyncs were most of a PostgreSQL test's time.
        if request.node.get_closest_marker("durable_commits") is None:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a new SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'followersync.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes `db_url` runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'followersync.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def _cli_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run_cli` runs the command in this process for a test marked `cli_in_process` (see
    tests/harness.py, CLI_IN_PROCESS)."""
    if request.node.get_closest_marker("cli_in_process") is not None:
        monkeypatch.setattr(harness, "CLI_IN_PROCESS", True)


# --- unit and integration: the fast set first (`make test` runs `-m unit`, then `-m integration`) ---

# Fixtures that reach outside the test's process: the PostgreSQL server (pg_url; db_url runs each
# test on it too), a socket (the simulator and the other local servers), or a process (the wheel's pip).
INTEGRATION_FIXTURES = frozenset(
    {
        "pg_url",
        "db_url",
        "make_sim",
        "receiver",
        "stalling_server",
        "trickle_url",
        "self_signed_url",
        "secret_url",
        "wheel",
        "migrated_config",
        "sim",  # the modules' own simulator fixtures
        "big_sim",
        "client",
        "api",
    }
)


def _refuse(what: str) -> Any:
    def refused(*_args: object, **_kwargs: object) -> NoReturn:
        raise AssertionError(
            f"a unit test may not {what}: mark it `pytest.mark.integration` (tests/conftest.py)"
        )

    return refused


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test marked `unit` opens no socket and starts no process: the marker cannot lie about it."""
    if request.node.get_closest_marker("unit") is None:
        return
    monkeypatch.setattr(socket.socket, "connect", _refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("connect a socket"))
    monkeypatch.setattr(socket.socket, "bind", _refuse("bind a socket"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("start a process"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run long randomized tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") is not None:
            continue
        uses = INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        item.add_marker(pytest.mark.integration if uses else pytest.mark.unit)
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="long randomized run: pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)
