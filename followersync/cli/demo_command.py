"""`followersync demo`: the whole product in a few seconds, with nothing to set up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from followersync import logging as fslogging
from followersync.cli.common import Globals, program
from followersync.cli.report_commands import (
    changes_command,
    growth_command,
    unfollows_command,
)
from followersync.cli.status_command import status_command


@click.command()
@click.option(
    "--dir",
    "directory",
    default="followersync-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo writes its configuration, SQLite database and chart.",
)
@click.option(
    "--days", default=14, show_default=True, type=click.IntRange(2, 90), help="Days of history to replay."
)
@click.pass_context
def demo(ctx: click.Context, directory: Path, days: int) -> None:
    """Run the whole product on your machine in a few seconds, with nothing to set up.

    Starts the built-in postpress simulator, writes a throwaway configuration with one LinkedIn and
    one Instagram source and a SQLite database, syncs them once a day for DAYS days of simulated time
    while followers come and go and two of them edit their profiles, then prints the status, the
    unfollow and profile-change reports and the growth chart's path. On day 3 it also shows what a
    chat webhook (a [[notify]] hook) receives. No network, no API key.

    \b
    Example:
      followersync demo --dir /tmp/fs-demo --days 30
      followersync --config /tmp/fs-demo/followersync.toml report growth
    """
    from followersync.cli import demo as replay

    fslogging.configure(ctx.obj.log_format, level="warning")  # the demo narrates; run logs would drown it
    me = program()
    made = replay.run(directory, days, click.echo, program=me)
    ctx.obj = Globals(str(made.config), ctx.obj.log_format)
    chart = directory / "growth.png"
    click.echo("\n$ followersync status")
    ctx.invoke(status_command, fmt="table")
    since = datetime.now(UTC) - timedelta(days=1)
    click.echo(f"\n$ followersync report unfollows --since {since:%Y-%m-%dT%H:%M}")
    ctx.invoke(unfollows_command, source=None, since=since, fmt="table")
    click.echo("\n$ followersync report changes")
    ctx.invoke(changes_command, source=None, since=None, fmt="table")
    click.echo("\n$ followersync report growth --days 7")
    ctx.invoke(growth_command, source=None, days=7, fmt="table", output=None)
    click.echo(f"\n$ followersync report growth --format png --output {chart}")
    ctx.invoke(growth_command, source=None, days=days, fmt="png", output=chart)
    click.echo(
        f"\nThe demo database is {made.database}; ask it anything, e.g.\n"
        f"  {me} runs --config {made.config}\n"
        f"  {me} report changes --config {made.config}\n"
        f"  sqlite3 {made.database} 'SELECT * FROM v_follower_growth_daily ORDER BY day DESC LIMIT 5'"
    )
