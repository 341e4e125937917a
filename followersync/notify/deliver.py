"""Deliver the outbox: POST to a URL or run a command, sign, retry with backoff, give up after a day.

    deliver_due(): each due payload of a configured hook is claimed, sent, and marked delivered or
                   failed (next attempt `backoff` later, doubling, at most MAX_BACKOFF; given up
                   GIVE_UP_AFTER after it was written). A hook's payloads go in the order they were
                   written: one that failed holds back the later ones until its retry, so a dead
                   receiver costs one timeout per retry, not one per payload.
    send():        one attempt, whatever the hook is; also what `notify test` uses.

At least once: a payload is marked delivered after the receiver answered, so a crash in between
sends it again, with the same id (`X-Followersync-Delivery`) for the receiver to drop.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from threading import Event

import httpx
import sqlalchemy as sa

from followersync import logging as fslogging
from followersync.api import deadline
from followersync.clock import Clock
from followersync.config import ENV_API_KEY, ConfigError, HookConfig
from followersync.store import outbox
from followersync.text import one_line

MAX_BACKOFF = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
# Extra time a claim holds a payload beyond the hook's timeout, so no other process sends it meanwhile.
_CLAIM_MARGIN = 60.0
_EXCERPT = 200

log = fslogging.get_logger("followersync.notify")


@dataclass(frozen=True)
class Answer:
    """What one delivery attempt got: `detail` is safe to show and store (no URL, no secret)."""

    ok: bool
    detail: str


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Followersync-Signature` header's value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _user_agent() -> str:
    try:
        return f"followersync/{version('followersync')}"
    except PackageNotFoundError:  # pragma: no cover - a checkout without the package installed
        return "followersync"


def http_client() -> httpx.Client:
    """A client whose requests `send` bounds as a whole by the hook's timeout (api/deadline.py)."""
    client = httpx.Client(follow_redirects=False, headers={"User-Agent": _user_agent()})
    deadline.install(client)
    return client


def hook_secret(hook: HookConfig) -> bytes | None:
    """The hook's signing secret, read from the environment now (never kept in settings), or None."""
    if hook.secret_env is None:
        return None
    value = os.environ.get(hook.secret_env, "")
    if not value:
        raise ConfigError(
            f"notify[{hook.number}].secret_env: the environment variable {hook.secret_env} is not set "
            f'(hook "{hook.name}" signs its payloads with it)'
        )
    return value.encode("utf-8")


def require_secrets(hooks: Sequence[HookConfig]) -> None:
    """A ConfigError when a hook's `secret_env` names an unset variable: the commands that deliver
    (`sync`, `worker`, `notify test`) check it at start, before any request is made."""
    for hook in hooks:
        hook_secret(hook)


def send(hook: HookConfig, body: bytes, delivery_id: str, client: httpx.Client) -> Answer:
    """One attempt to hand `body` to `hook`."""
    secret = hook_secret(hook)
    if hook.url is not None:
        return _post(hook, body, delivery_id, secret, client)
    return _run(hook, body, delivery_id, secret)


def _post(
    hook: HookConfig, body: bytes, delivery_id: str, secret: bytes | None, client: httpx.Client
) -> Answer:
    assert hook.url is not None
    headers = {"Content-Type": "application/json", "X-Followersync-Delivery": delivery_id}
    if secret is not None:
        headers["X-Followersync-Signature"] = signature(secret, body)
    try:
        with deadline.within(hook.timeout):
            response = client.post(hook.url, content=body, headers=headers, timeout=hook.timeout)
    except httpx.TimeoutException:
        return Answer(False, f"no answer within {hook.timeout:g}s")
    except httpx.HTTPError as exc:
        # The exception's text can hold the URL (and so its credentials): only its kind is kept.
        return Answer(False, f"request failed ({type(exc).__name__})")
    if 200 <= response.status_code < 300:
        return Answer(True, f"HTTP {response.status_code}")
    excerpt = one_line(response.text, _EXCERPT)
    return Answer(False, f"HTTP {response.status_code}" + (f": {excerpt}" if excerpt else ""))


def _run(hook: HookConfig, body: bytes, delivery_id: str, secret: bytes | None) -> Answer:
    assert hook.command is not None
    # The command gets what a webhook gets, but not the postpress API key it has no use for.
    env = {k: v for k, v in os.environ.items() if k != ENV_API_KEY}
    env["FOLLOWERSYNC_DELIVERY"] = delivery_id
    if secret is not None:
        env["FOLLOWERSYNC_SIGNATURE"] = signature(secret, body)
    try:
        done = subprocess.run(  # noqa: S603 - the user's own configured program, no shell
            list(hook.command), input=body, capture_output=True, timeout=hook.timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return Answer(False, f"no exit within {hook.timeout:g}s (killed)")
    except OSError as exc:
        return Answer(False, f"could not run {hook.command[0]}: {exc.strerror or type(exc).__name__}")
    if done.returncode == 0:
        return Answer(True, "exit 0")
    said = (
        one_line(done.stderr.decode("utf-8", "replace").strip().splitlines()[-1], _EXCERPT)
        if done.stderr.strip()
        else ""
    )
    return Answer(False, f"exit {done.returncode}" + (f": {said}" if said else ""))


@dataclass
class Tally:
    delivered: int = 0
    failed: int = 0
    given_up: int = 0


def deliver_due(
    database: sa.Engine, hooks: Sequence[HookConfig], clock: Clock, stop: Event | None = None
) -> Tally:
    """Deliver every due payload of the configured hooks, oldest first; returns what happened."""
    tally = Tally()
    by_name = {hook.name: hook for hook in hooks}
    now = clock.now()
    with database.begin() as conn:
        tally.given_up += outbox.give_up_unconfigured(conn, list(by_name), now - GIVE_UP_AFTER, now)
        waiting = outbox.pending(conn, list(by_name)) if hooks else []
    if not waiting:
        return tally  # no HTTP client: its TLS set-up costs tens of milliseconds, each worker round
    held_back: set[str] = set()  # hooks with an earlier payload waiting for its retry
    with http_client() as client:
        for payload in waiting:
            if stop is not None and stop.is_set():
                break
            if payload.hook in held_back or payload.next_attempt_at > now:
                held_back.add(payload.hook)
                continue
            hook = by_name[payload.hook]
            with database.begin() as conn:
                until = clock.now() + timedelta(seconds=hook.timeout + _CLAIM_MARGIN)
                if not outbox.claim(conn, payload, until):
                    continue  # another process is delivering it
            answer = send(hook, payload.body, payload.id, client)
            now = clock.now()
            with database.begin() as conn:
                if answer.ok:
                    outbox.delivered(conn, payload.id, now)
                    tally.delivered += 1
                    continue
                held_back.add(hook.name)
                wait = min(timedelta(seconds=hook.backoff) * 2**payload.attempts, MAX_BACKOFF)
                give_up = now - payload.created_at >= GIVE_UP_AFTER
                outbox.failed(
                    conn, payload.id, answer.detail, retry_at=now + wait, given_up_at=now if give_up else None
                )
            tally.failed += 1
            tally.given_up += give_up
            (log.error if give_up else log.warning)(
                "notify.given_up" if give_up else "notify.failed",
                hook=hook.name,
                target=hook.target,
                delivery=payload.id,
                attempts=payload.attempts + 1,
                error=answer.detail,
                retry_in=None if give_up else wait.total_seconds(),
            )
    if tally.delivered or tally.failed:
        log.info("notify.delivered", delivered=tally.delivered, failed=tally.failed, given_up=tally.given_up)
    return tally
