"""Start-up: `followersync --help` imports no command, and lists each command as the command itself
describes it (followersync/cli/lazy.py)."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from followersync.cli import cli
from followersync.cli.lazy import COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_short_help_is_the_commands_own(name: str) -> None:
    command = COMMANDS[name].load()
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=1000)
    assert cli.get_command(click.Context(cli), name) is command


def test_the_group_lists_every_command_it_holds() -> None:
    loaded = {name: COMMANDS[name].load() for name in COMMANDS}
    assert all(command.name == name or name in ("report", "notify") for name, command in loaded.items())
    assert sorted(cli.list_commands(click.Context(cli))) == sorted(COMMANDS)


def test_help_imports_no_command_and_none_of_their_libraries() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['followersync', '--help']\n"
        "from followersync.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ['sqlalchemy', 'httpx', 'structlog', 'rich', 'alembic', 'matplotlib', 'http.server',\n"
        "         'followersync.config', 'followersync.cli.run_commands',\n"
        "         'followersync.cli.report_commands']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    *help_lines, imported = done.stdout.splitlines()
    assert "Commands:" in help_lines
    assert imported == ""
