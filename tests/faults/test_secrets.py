"""The API key and the database password never leave the places they are needed
(docs/semantics.md#secrets): not in logs (JSON or console), not in errors, not in any table (run history
included), not in the output of `migrate`, `sync`, `runs` or `status`, not in a repr, even when the API
echoes the key back.

PostgreSQL here runs with trust authentication, so a URL with any password connects: the password is
real as far as followersync can tell.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.api.client import Client
from followersync.clock import FakeClock
from followersync.config import load_settings
from followersync.simulator import Fault, Simulator
from followersync.store import db
from followersync.sync.fleet import Fleet
from followersync.sync.runner import PassRunner
from tests.harness import cli_env, write_config
from tests.sim_support import MakeSim, instagram_source, linkedin_source

KEY = "pp_live_Sup3rS3cretKey0042"
PASSWORD = "S3cretPw-91b7"
SECRETS = (KEY, PASSWORD)

ECHOES = {
    # What a server that repeats the key could send, one per source.
    "echo-envelope": Fault.error(
        "errors/invalid_credentials", title=f"Bad key {KEY}", detail=f"The key {KEY} is wrong.", instance=KEY
    ),
    "echo-retried": Fault.error("errors/service_unavailable", detail=f"upstream saw {KEY}"),
    "echo-html-error": Fault.body(
        f"<html>Bad key {KEY}</html>".encode(), status=502, content_type="text/html"
    ),
    "echo-page": Fault.body(f"<html>Welcome {KEY}</html>".encode(), status=200, content_type="text/html"),
}
SOURCES = [
    *(linkedin_source(name=name, account_id=f"acc_{name}") for name in ECHOES),
    instagram_source(name="fine", account_id="acc_fine"),
]


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} shows a secret"


@pytest.fixture
def secret_url(pg_url: str) -> str:
    return sa.make_url(pg_url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.fixture
def api(make_sim: MakeSim) -> Simulator:
    simulator = make_sim(api_key=KEY, seed=2, accounts=dict.fromkeys(SOURCES, 120))
    for name, fault in ECHOES.items():
        simulator.inject(fault, account_id=f"acc_{name}", on_request=2, times=-1)
    return simulator


def followersync(
    config: Path, *args: str, log_format: str = "json", **env: str
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "followersync", "--config", str(config), "--log-format", log_format, *args]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=120, env=cli_env(POSTPRESS_API_KEY=KEY, **env)
    )


def every_row(url: str) -> Iterator[tuple[str, str]]:
    """(table, repr of a row) for every row of every table."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    yield table, repr(tuple(row))
    finally:
        engine.dispose()


def test_secrets_stay_out_of_logs_output_and_the_database(
    tmp_path: Path, secret_url: str, api: Simulator
) -> None:
    config = write_config(tmp_path / "f.toml", secret_url, api.base_url, SOURCES)
    outputs = {
        "migrate": followersync(config, "migrate"),
        "sync, JSON logs": followersync(config, "sync"),
        "sync, console logs": followersync(config, "sync", "--mode", "full", log_format="console"),
    }
    # JSON carries every field the tables show, and more.
    outputs["runs"] = followersync(config, "runs", "--format", "json")
    outputs["status"] = followersync(config, "status", "--format", "json")

    assert "postgresql+psycopg://postgres:***@" in outputs["migrate"].stdout
    assert outputs["sync, JSON logs"].returncode == 1  # the echoing sources failed, "fine" did not
    assert '"event": "api.retry"' in outputs["sync, JSON logs"].stderr
    assert "run.end" in outputs["sync, console logs"].stderr
    assert outputs["runs"].returncode == outputs["status"].returncode == 0
    assert "errors/invalid_credentials" in outputs["runs"].stdout  # the failure is shown, the key is not
    for what, done in outputs.items():
        assert "Traceback" not in done.stderr, what
        assert_no_secret(done.stdout, f"the output of {what}")
        assert_no_secret(done.stderr, f"the logs of {what}")

    rows = list(every_row(secret_url))
    assert any(table == "sync_runs" and "errors/invalid_credentials" in row for table, row in rows)
    for table, row in rows:
        assert_no_secret(row, f"a row of {table}")
    assert all(not record.key_in_query for record in api.requests)


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path, api: Simulator) -> None:
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/followers"
    config = write_config(tmp_path / "f.toml", url, api.base_url, SOURCES)
    for command in ("migrate", "sync"):
        done = followersync(config, command)
        assert done.returncode == 2
        assert "postgres:***@127.0.0.1:1" in done.stderr
        assert_no_secret(done.stdout + done.stderr, command)


def test_reprs_show_no_secret(tmp_path: Path, secret_url: str, api: Simulator) -> None:
    config = write_config(tmp_path / "f.toml", secret_url, api.base_url, SOURCES)
    settings = load_settings(config, env={"POSTPRESS_API_KEY": KEY})
    assert settings.api.api_key == KEY and PASSWORD in settings.database.url
    engine = db.create_engine(settings.database.url)
    client = Client(settings.api, settings.providers, KEY, clock=FakeClock())
    runner = PassRunner(engine, client, settings, FakeClock(), "holder")
    try:
        for thing in (
            settings,
            settings.api,
            settings.database,
            client,
            engine,
            runner,
            Fleet(runner, settings),
        ):
            assert_no_secret(repr(thing), f"repr of {type(thing).__name__}")
            assert_no_secret(str(thing), f"str of {type(thing).__name__}")
    finally:
        client.close()
        engine.dispose()
