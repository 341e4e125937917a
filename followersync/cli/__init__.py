"""The command line: parse, call, print. No logic of its own lives here.

__init__         the `followersync` group and its global options
lazy             the group's commands, each imported only when it runs
common           the global options' state, usage and database errors (exit codes), the database
run_commands     migrate, sync, worker
status_command   status (on a SQLite file without SQLAlchemy)
report_commands  runs, report unfollows, report growth, report changes
notify_command   notify test
render           tables, JSON and CSV
chart            the growth chart (matplotlib, the `charts` extra)
demo_command     demo
simulate_command simulate (the fake postpress API of followersync/simulator, standalone)
"""

from __future__ import annotations

import sys

import click

from followersync import __version__, allocator
from followersync.cli.lazy import LazyGroup

__all__ = ["cli", "hoist_global_options", "main"]


@click.group(
    cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="followersync")
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file (default: $FOLLOWERSYNC_CONFIG, else ./followersync.toml if present).",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    help="Log format on stderr (default: console on a terminal, JSON lines otherwise).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_format: str | None) -> None:
    """Keep a SQL database in step with the followers of postpress-linked accounts.

    \b
    Typical use:
      followersync demo                    # see it work, with nothing to set up
      followersync migrate                 # create or upgrade the schema
      followersync sync                    # one pass for every configured source
      followersync worker                  # or keep syncing whatever is due
      followersync status                  # how each source is doing
      followersync report growth --format png
    --config and --log-format may be given before or after the sub-command.
    Exit codes: 0 all good, 1 at least one source failed, 2 usage or configuration error.
    """
    # Here, not at the top: `followersync --help` never gets this far, and should not pay for them.
    from followersync import logging as fslogging
    from followersync.cli.common import Globals

    fslogging.configure(log_format)
    ctx.obj = Globals(config_path, log_format)


# The group's own options, which people also type after the sub-command (`followersync status
# --config x.toml`); each takes a value.
GLOBAL_OPTIONS = ("--config", "--log-format")


def hoist_global_options(args: list[str]) -> list[str]:
    """`args` with the global options moved before the sub-command, wherever they were typed:
    click only knows a group's options before its sub-command. Everything after `--` stays put."""
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest += args[position:]
            break
        name = arg.partition("=")[0]
        if name in GLOBAL_OPTIONS:
            taken = 1 if "=" in arg else 2
            front += args[position : position + taken]
            position += taken
            continue
        rest.append(arg)
        position += 1
    return front + rest


def main() -> None:
    allocator.return_large_buffers()  # before any page is read: the peak memory of a pass
    cli(args=hoist_global_options(sys.argv[1:]), prog_name="followersync")
