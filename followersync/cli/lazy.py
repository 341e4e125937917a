"""The `followersync` group's commands, imported only when one runs (or its own help is asked for).

`followersync --help`, shell completions and every cron start pay for what they import: the commands
bring SQLAlchemy, httpx, the simulator's http.server and more, none of which the group's help needs.
So the group lists each command by name and short help from `COMMANDS` and imports its module only
once the command is chosen; a test keeps each short help equal to the command's own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    module: str
    attribute: str
    short_help: str  # the command's own short help (its docstring's first sentence)

    def load(self) -> click.Command:
        command = getattr(importlib.import_module(self.module), self.attribute)
        assert isinstance(command, click.Command)
        return command


_RUN = "followersync.cli.run_commands"
_REPORT = "followersync.cli.report_commands"

COMMANDS: dict[str, LazyCommand] = {
    "demo": LazyCommand(
        "followersync.cli.demo_command",
        "demo",
        "Run the whole product on your machine in a few seconds, with nothing to set up.",
    ),
    "migrate": LazyCommand(
        _RUN, "migrate", "Bring the configured database to the newest schema (alembic upgrade head)."
    ),
    "notify": LazyCommand(
        "followersync.cli.notify_command",
        "notify_group",
        "Notification hooks (the [[notify]] tables of the configuration).",
    ),
    "report": LazyCommand(
        _REPORT,
        "report_group",
        "Who unfollowed, how the following grows, and how followers' profiles change.",
    ),
    "runs": LazyCommand(_REPORT, "runs_command", "Run history, newest first."),
    "simulate": LazyCommand(
        "followersync.cli.simulate_command",
        "simulate_command",
        "Serve a realistic fake postpress API (GET /api/v1/users/followers) until Ctrl-C or SIGTERM.",
    ),
    "status": LazyCommand(
        "followersync.cli.status_command",
        "status_command",
        "Each configured source: followers now, last run, last complete pass, checkpoint.",
    ),
    "sync": LazyCommand(_RUN, "sync", "One pass for each (or each named) source."),
    "worker": LazyCommand(
        _RUN, "worker", "Long-running scheduler: claim due sources, sync them, sleep until the next is due."
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are `COMMANDS`, imported when chosen."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(COMMANDS[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, as click writes it, from the short helps above (nothing imported)."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        # Shortened as click shortens a command's help, through a stand-in that holds only that text.
        rows = [
            (name, click.Command(name, help=COMMANDS[name].short_help).get_short_help_str(limit))
            for name in sorted(COMMANDS)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
