"""Start-up: `followersync --help` imports no command, and lists each command as the command itself
describes it (followersync/cli/lazy.py); `status` on a SQLite file reads through the sqlite3 driver
without SQLAlchemy (followersync/cli/status_command.py), and structlog is imported only when a line is
written (followersync/logging.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import click
import pytest

from followersync.cli import cli
from followersync.cli.lazy import COMMANDS
from followersync.store import db
from tests.harness import cli_env

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

# Libraries and modules `status` on a SQLite file has no use for; structlog (and rich, which its
# console renderer loads) only once a line is written.
NOT_FOR_STATUS = [
    "sqlalchemy",
    "asyncio",
    "structlog",
    "rich",
    "httpx",
    "alembic",
    "matplotlib",
    "http.server",
    "followersync.simulator",
    "followersync.api",
    "followersync.sync.runner",
    "followersync.sync.fleet",
    "followersync.cli.run_commands",
    "followersync.cli.report_commands",
    "followersync.reports",
]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_short_help_is_the_commands_own(name: str) -> None:
    command = COMMANDS[name].load()
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=1000)
    assert cli.get_command(click.Context(cli), name) is command


def test_the_group_lists_every_command_it_holds() -> None:
    loaded = {name: COMMANDS[name].load() for name in COMMANDS}
    assert all(command.name == name or name in ("report", "notify") for name, command in loaded.items())
    assert sorted(cli.list_commands(click.Context(cli))) == sorted(COMMANDS)


def run_and_list_imports(args: Sequence[str], modules: Sequence[str]) -> tuple[list[str], list[str], str]:
    """Run `followersync ARGS` in a fresh interpreter, as a shell would: its stdout lines, which of
    `modules` it imported, and its stderr."""
    code = (
        "import sys\n"
        f"sys.argv = ['followersync', *{list(args)!r}]\n"
        "from followersync.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(','.join(m for m in {list(modules)!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    *lines, imported = done.stdout.splitlines()
    return lines, [m for m in imported.split(",") if m], done.stderr


def test_help_imports_no_command_and_none_of_their_libraries() -> None:
    heavy = [*NOT_FOR_STATUS, "followersync.config", "followersync.cli.status_command"]
    help_lines, imported, _ = run_and_list_imports(["--help"], heavy)
    assert "Commands:" in help_lines
    assert imported == []


def status_config(tmp_path: Path, sources: Sequence[str] = ("brand-ig",)) -> Path:
    """A configuration of `sources` (same account) on a migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'followersync.db'}"
    engine = db.create_engine(url)
    try:
        db.migrate(engine)
    finally:
        engine.dispose()
    config = tmp_path / "followersync.toml"
    tables = [f'[[sources]]\nname = "{s}"\nprovider = "instagram"\naccount_id = "acc_1"\n' for s in sources]
    config.write_text(f'[database]\nurl = "{url}"\n' + "".join(tables))
    return config


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_status_on_a_sqlite_file_imports_only_what_it_uses(tmp_path: Path, fmt: str) -> None:
    config = status_config(tmp_path)
    lines, imported, stderr = run_and_list_imports(
        ["--config", str(config), "status", "--format", fmt], NOT_FOR_STATUS
    )
    assert "brand-ig" in "\n".join(lines)
    assert stderr == ""
    assert imported == []


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_status_that_logs_a_line_writes_it_as_configured(tmp_path: Path, log_format: str) -> None:
    # Two sources listing the same followers: a configuration warning, logged before the status.
    config = status_config(tmp_path, ["brand-ig", "brand-ig-old"])
    lines, imported, stderr = run_and_list_imports(
        ["--config", str(config), "--log-format", log_format, "status"], ["structlog"]
    )
    assert "brand-ig-old" in "\n".join(lines)
    assert imported == ["structlog"]
    [line] = stderr.splitlines()
    if log_format == "json":
        assert json.loads(line)["event"] == "config.warning"
    else:
        assert "config.warning" in line and "same followers" in line


def test_first_lines_written_at_once_by_many_threads_all_follow_the_set_up() -> None:
    # structlog is configured at the first line (followersync/logging.py): a pass's threads may all
    # write their first lines at once, and none may get structlog's unconfigured defaults.
    code = (
        "import io, sys, threading\n"
        "from followersync import logging as fslogging\n"
        "out = io.StringIO()\n"
        "fslogging.configure('json', stream=out)\n"
        "assert 'structlog' not in sys.modules\n"
        "loggers = [fslogging.get_logger(f'thread{i}') for i in range(8)]\n"
        "together = threading.Barrier(8)\n"
        "def write(i):\n    together.wait()\n    loggers[i].info('first', thread=i)\n"
        "threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]\n"
        "[t.start() for t in threads]\n[t.join() for t in threads]\n"
        "sys.stdout.write(out.getvalue())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(line["thread"] for line in lines) == list(range(8))
    assert all(line["event"] == "first" and line["level"] == "info" for line in lines)


def test_status_without_a_configuration_file_says_so(tmp_path: Path) -> None:
    """In a folder without followersync.toml, and with neither --config nor FOLLOWERSYNC_CONFIG,
    `status` names the missing file, where it looked and how to point at one, not the schema of a
    default database that is not there either; nothing is created (issue #22)."""
    done = subprocess.run(
        [sys.executable, "-m", "followersync", "status"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=cli_env(),
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        f"Error: no configuration file: status shows the sources of followersync.toml, and "
        f"{tmp_path / 'followersync.toml'} does not exist; give --config PATH or set FOLLOWERSYNC_CONFIG"
    ]
    assert list(tmp_path.iterdir()) == []
