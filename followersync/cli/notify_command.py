"""`followersync notify test`: does each hook receive what followersync sends? (README, "Notifications")"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from followersync import text
from followersync.cli.common import EXIT_SOURCE_FAILED, Globals, UsageProblem
from followersync.config import ConfigError
from followersync.notify.deliver import http_client, require_secrets, send
from followersync.notify.payloads import event_record, payload_bodies


@click.group("notify")
def notify_group() -> None:
    """Notification hooks (the [[notify]] tables of the configuration)."""


@notify_group.command("test")
@click.option("--name", metavar="NAME", help="Test only this hook. Default: every configured hook.")
@click.pass_obj
def test_command(g: Globals, name: str | None) -> None:
    """Send each hook (or the named one) a test payload and print what it answered.

    The payload is a real one, signed like every other, whose `events` holds a single
    {"event": "test"}. Nothing is written to the database. Exit 1 if a hook failed.

    \b
    Examples:
      followersync notify test
      followersync notify test --name slack-growth
    """
    settings = g.settings()
    try:
        hooks = settings.select_hooks(name)
        require_secrets(settings.notify)
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    now = datetime.now(UTC)
    event = event_record("test", now)
    event.pop("occurred_at")
    ((payload_id, _, body),) = payload_bodies(None, None, [event], now)
    failed = 0
    width = max(len(hook.name) for hook in hooks)
    with http_client() as client:
        for hook in hooks:
            answer = send(hook, body, payload_id, client)
            failed += not answer.ok
            verdict = "ok" if answer.ok else "FAILED"
            # The detail quotes the receiver's answer: its text, not ours (followersync.text).
            click.echo(text.printable(f"{hook.name.ljust(width)}  {hook.target}  {verdict}: {answer.detail}"))
    if failed:
        sys.exit(EXIT_SOURCE_FAILED)
