"""Value readers: each turns one raw TOML (or environment) value into its setting, or raises a
ConfigError whose one line starts with the key's dotted path and shows the value as TOML would
(`sync.concurrency: must be an integer >= 1, got 0`). REFERENCE (reference.py) names the reader of
every key.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from followersync import domain
from followersync.config.model import (
    DEFAULT_BASE_URL,
    EXPECTED_PROVIDERS,
    PROVIDERS,
    ConfigError,
    sqlite_file,
)

Reader = Callable[[object, str], Any]
"""Turns one raw TOML (or environment) value into its setting, or raises ConfigError naming `key`."""


def show(value: object) -> str:
    """A value as it looks in TOML, kept to one short line for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 60 else text[:56] + '..."'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"a {type(value).__name__}"  # TOML dates and times


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)")
_DURATION = re.compile(rf"([+-]?)\s*((?:{_DURATION_PART.pattern}\s*)+)")
_DURATION_HINT = 'a number of seconds or a string like "1.5s", "500ms", "10m", "24h", "2d"'


def parse_duration(value: object, key: str) -> float:
    """Seconds from a number of seconds or a string such as "1.5s", "500ms", "10m", "24h", "1h30m"."""
    seconds: float | None = None
    # TOML booleans are Python ints; `timeout = true` is a mistake, not 1 second.
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip())
        if match:
            total = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(match[2]))
            seconds = -total if match[1] == "-" else total
    if seconds is None or not math.isfinite(seconds):
        raise ConfigError(f"{key}: must be a duration ({_DURATION_HINT}), got {show(value)}")
    return seconds


def duration(*, zero_allowed: bool) -> Reader:
    """A reader of durations > 0, or >= 0 where 0 means "off"."""

    def read(value: object, key: str) -> float:
        seconds = parse_duration(value, key)
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            bound = ">= 0" if zero_allowed else "> 0"
            raise ConfigError(f"{key}: must be a duration {bound}, got {show(value)}")
        return seconds

    return read


def integer(minimum: int) -> Reader:
    """A reader of integers >= minimum (booleans refused)."""

    def read(value: object, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"{key}: must be an integer >= {minimum}, got {show(value)}")
        return value

    return read


def fraction(value: object, key: str) -> float:
    """A number in (0, 1]."""
    # 0 would withhold every unfollow; above 1 would never withhold: neither guards anything.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{key}: must be a number > 0 and <= 1, got {show(value)}")
    return float(value)


def factor(value: object, key: str) -> float:
    """A number >= 1, or 0 for off."""
    # Between 0 and 1 the guard would withhold passes that lose fewer followers than usual.
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value == 0 or value >= 1):
        raise ConfigError(f"{key}: must be 0 (off) or a number >= 1, got {show(value)}")
    return float(value)


def http_url(value: object, key: str) -> str:
    """An http(s) URL without query or fragment, trailing "/" removed so paths join with one slash."""
    url = value.strip().rstrip("/") if isinstance(value, str) else ""
    try:
        parts = urlsplit(url)
        # A query or fragment would end up in the middle of {base_url}/users/followers.
        valid = (
            parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.query or parts.fragment)
        )
    except ValueError:  # e.g. an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise ConfigError(
            f'{key}: must be an http(s) URL without query, such as "{DEFAULT_BASE_URL}", got {show(value)}'
        )
    return url


PSYCOPG = "postgresql+psycopg"
_DATABASE_HINT = f"expected sqlite:///PATH or {PSYCOPG}://USER@HOST/DATABASE"


def database_url(value: object, key: str) -> str:
    """A SQLite or PostgreSQL (psycopg 3) URL; the value is never shown since it may carry a password."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: must be a non-empty string ({_DATABASE_HINT}), got {show(value)}")
    text = value.strip()
    if sqlite_file(text) is not None:
        return text
    # SQLAlchemy here, not at the top: every command reads the configuration, and the commonest URL,
    # a SQLite file, is read above without it.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend, _, driver = make_url(text).drivername.partition("+")
    except ArgumentError:
        raise ConfigError(f"{key}: not a database URL ({_DATABASE_HINT})") from None
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        # psycopg 3 is the one PostgreSQL driver installed; plain postgresql:// would ask for psycopg2.
        # Only the scheme is rewritten: re-rendering the URL could re-quote the rest of it.
        return PSYCOPG + text[text.index("://") :]
    if backend == "sqlite" and driver in ("", "pysqlite"):
        # Not a file (checked first, above): `sqlite://` and `sqlite:///:memory:` are valid SQLAlchemy
        # URLs, of a database that lives in one connection: each of followersync's threads would get
        # an empty one of its own (no such table), and `migrate` would migrate a database thrown away
        # as it exits.
        raise ConfigError(
            f"{key}: an in-memory SQLite database does not outlive one connection, let alone the "
            "command; give a file: sqlite:///PATH"
        )
    if backend in ("postgresql", "postgres", "sqlite"):
        raise ConfigError(f'{key}: driver "{driver}" is not supported ({_DATABASE_HINT})')
    raise ConfigError(f'{key}: unsupported database "{backend}" ({_DATABASE_HINT})')


def non_empty_text(*, why_not_empty: str) -> Reader:
    """A reader of non-empty strings, surrounding whitespace dropped."""

    def read(value: object, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {show(value)}")
        if not value.strip():
            raise ConfigError(f"{key}: must not be empty ({why_not_empty})")
        return value.strip()

    return read


def provider_name(value: object, key: str) -> str:
    """One of PROVIDERS, spelt exactly."""
    if not isinstance(value, str):
        raise ConfigError(f'{key}: must be "linkedin" or "instagram", got {show(value)}')
    if value not in PROVIDERS:
        raise ConfigError(f"{key}: unknown provider {show(value)} (expected {EXPECTED_PROVIDERS})")
    return value


_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def source_name(value: object, key: str) -> str:
    """A name safe to type on a command line: ASCII letters, digits, '.', '_', '-'."""
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {show(value)}")
    if not _SOURCE_NAME.fullmatch(value):
        # It is typed after --source and shown in reports, so it must survive a shell unquoted.
        raise ConfigError(
            f"{key}: {show(value)} is not a valid source name (letters, digits, '.', '_' and '-', "
            "starting with a letter or digit)"
        )
    return value


def _shown_url(value: str) -> str:
    """A URL for a message: its userinfo (credentials) dropped."""
    try:
        parts = urlsplit(value)
        if parts.username is not None or parts.password is not None:
            return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    except ValueError:
        pass
    return value


def hook_url(value: object, key: str) -> str:
    """An http(s) URL to POST payloads to; a query is allowed (chat webhooks use them)."""
    url = value.strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        shown = show(_shown_url(value) if isinstance(value, str) else value)
        raise ConfigError(f"{key}: must be an http:// or https:// URL, got {shown}")
    return url


def argv(value: object, key: str) -> tuple[str, ...]:
    """A command as an array of arguments (no shell): the program first."""
    if not isinstance(value, list) or not value or not all(isinstance(arg, str) for arg in value):
        raise ConfigError(
            f"{key}: must be an array of strings, the program first, such as "
            f'["/usr/local/bin/on-followers"], got {show(value)}'
        )
    if not value[0].strip():
        raise ConfigError(f"{key}: the program (the first element) must not be empty")
    return tuple(value)


def notify_events(value: object, key: str) -> tuple[str, ...]:
    """A non-empty array of the events a hook can ask for."""
    expected = ", ".join(domain.NOTIFY_EVENTS)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: must be a non-empty array of events ({expected}), got {show(value)}")
    for event in value:
        if event not in domain.NOTIFY_EVENTS:
            raise ConfigError(f"{key}: unknown event {show(event)} (expected {expected})")
    return tuple(dict.fromkeys(value))


def source_names(value: object, key: str) -> tuple[str, ...]:
    """A non-empty array of source names (each is checked against [[sources]] once all are read)."""
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise ConfigError(f"{key}: must be a non-empty array of source names, got {show(value)}")
    return tuple(dict.fromkeys(value))


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name(value: object, key: str) -> str:
    """The name of an environment variable (the value itself never goes in the file)."""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ConfigError(
            f"{key}: must name an environment variable (letters, digits and '_'), got {show(value)}; "
            "put the secret itself in that variable, not in the file"
        )
    return value
