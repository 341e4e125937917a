"""Settings: the TOML file plus environment overrides, validated once into frozen dataclasses.

    load_settings()                      the one entry point: find the file, read it, apply the env
      ├── the file     --config PATH > FOLLOWERSYNC_CONFIG > ./followersync.toml > none (all defaults)
      ├── REFERENCE    every key: dotted name, default as users see it, meaning, how it is read
      └── environment  POSTPRESS_API_KEY, FOLLOWERSYNC_DATABASE_URL, FOLLOWERSYNC_BASE_URL

Everything past this module trusts `Settings`: every problem is found here, before any request is made,
and reported as a `ConfigError` whose one-line message starts with the key's dotted path
(`sync.concurrency: must be an integer >= 1, got 0`). `REFERENCE` is the single description of the keys:
the validator knows the valid keys from it, and docs/configuration.md is written from it (a test keeps
the two equal).

Secrets: the API key comes only from the environment and is never part of a repr; a database password
is hidden in `DatabaseSettings`' repr, in `safe_url` and in every message.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from followersync import domain

PROVIDERS = tuple(domain.PROVIDERS)
PROVIDER_MAX_PAGE_SIZE = {p.name: p.max_page_size for p in domain.PROVIDERS.values()}
DEFAULT_BASE_URL = "https://api.postpress.ai/api/v1"
DEFAULT_DATABASE_URL = "sqlite:///followersync.db"

CONFIG_FILE_NAME = "followersync.toml"
ENV_CONFIG = "FOLLOWERSYNC_CONFIG"
ENV_API_KEY = "POSTPRESS_API_KEY"
ENV_DATABASE_URL = "FOLLOWERSYNC_DATABASE_URL"
ENV_BASE_URL = "FOLLOWERSYNC_BASE_URL"

_PROVIDER_TITLES = {p.name: p.title for p in domain.PROVIDERS.values()}
_EXPECTED_PROVIDERS = " or ".join(PROVIDERS)


class ConfigError(Exception):
    """A configuration or usage problem: a one-line message naming the key. The CLI exits 2."""


@dataclass(frozen=True)
class ApiSettings:
    """How to reach the postpress API; the key comes only from POSTPRESS_API_KEY."""

    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    max_attempts: int = 6
    max_retry_wait: float = 300.0
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the followers land: a SQLAlchemy URL (SQLite or PostgreSQL with psycopg 3)."""

    url: str = DEFAULT_DATABASE_URL

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden: the only form of it fit for logs and messages."""
        return safe_database_url(self.url)

    @property
    def password(self) -> str | None:
        """The URL's password, if it has one (for the logs, which must never print it)."""
        if sqlite_file(self.url) is not None:
            return None
        from sqlalchemy.engine import make_url

        password = make_url(self.url).password
        return str(password) if password else None

    @property
    def sqlite_file(self) -> str | None:
        """The path of the SQLite file, for a `sqlite:///PATH` URL and nothing more; else None."""
        return sqlite_file(self.url)

    def __repr__(self) -> str:
        return f"DatabaseSettings(url={self.safe_url!r})"


@dataclass(frozen=True)
class SyncSettings:
    """How passes are planned, scheduled and guarded."""

    concurrency: int = 8
    full_pass_interval: float = 86400.0
    interval: float = 3600.0
    lease_ttl: float = 60.0
    checkpoint_max_age: float = 43200.0
    unfollow_guard_fraction: float = 0.25
    unfollow_guard_min: int = 25
    unfollow_history_factor: float = 5.0
    unfollow_history_min: int = 10
    unfollow_confirmations: int = 2
    confirm_after: float = 3600.0


@dataclass(frozen=True)
class ProviderSettings:
    """Paging and pacing for every linked account of one provider."""

    page_size: int
    min_request_interval: float = 3.0
    daily_request_budget: int = 2000
    cooldown: float = 300.0
    max_cooldown: float = 3600.0


@dataclass(frozen=True)
class SourceConfig:
    """One `[[sources]]` table: a linked account, optionally narrowed to whose followers to list."""

    name: str
    provider: str
    account_id: str
    user_id: str | None = None


@dataclass(frozen=True)
class HookConfig:
    """One `[[notify]]` table: where to tell the user's own systems what a run found (README,
    "Notifications"). Exactly one of `url` and `command`. The URL may carry credentials, so it is
    never part of a repr or a message: `target` is the form fit for both."""

    name: str
    number: int = field(compare=False)  # the table's place in the file, for messages (`notify[2]`)
    url: str | None = field(default=None, repr=False)
    command: tuple[str, ...] | None = None
    events: tuple[str, ...] = domain.NOTIFY_EVENTS
    sources: tuple[str, ...] | None = None  # None: every source
    secret_env: str | None = None  # names the environment variable holding the signing secret
    timeout: float = 10.0
    backoff: float = 30.0

    @property
    def target(self) -> str:
        """Where payloads go, safe to show: the URL's scheme, host and port only (its path, query
        and userinfo may all be secrets, as in chat webhooks), or the command's program."""
        if self.url is not None:
            parts = urlsplit(self.url)
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}/..."
        assert self.command is not None
        return self.command[0]


def _default_providers() -> dict[str, ProviderSettings]:
    return {p: ProviderSettings(page_size=PROVIDER_MAX_PAGE_SIZE[p]) for p in PROVIDERS}


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration; `warnings` holds what was adjusted (e.g. a capped page_size)."""

    api: ApiSettings = field(default_factory=ApiSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    providers: Mapping[str, ProviderSettings] = field(default_factory=_default_providers)
    sources: tuple[SourceConfig, ...] = ()
    notify: tuple[HookConfig, ...] = ()
    config_path: Path | None = None
    warnings: tuple[str, ...] = ()

    def provider(self, name: str) -> ProviderSettings:
        """The paging and pacing settings of one provider."""
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigError(f'unknown provider "{name}" (expected {_EXPECTED_PROVIDERS})') from None

    def require_api_key(self) -> str:
        """The API key, or a ConfigError for the commands that call the API (`sync`, `worker`): unset,
        or not a value the X-API-KEY header can carry. Checked here, at start, so that such a key is
        one line and exit 2 before any database is opened, not a traceback once the client is built."""
        if not self.api.api_key:
            raise ConfigError(
                f"{ENV_API_KEY} is not set: the sync and worker commands need the postpress API key "
                "in the environment"
            )
        problem = api_key_problem(self.api.api_key)
        if problem is not None:
            raise ConfigError(
                f"{ENV_API_KEY}: {problem}; an API key is visible ASCII without spaces (copy it "
                "again from the postpress dashboard)"
            )
        return self.api.api_key

    def select_hooks(self, name: str | None) -> tuple[HookConfig, ...]:
        """Every hook, or the one named `name`."""
        if not self.notify:
            raise ConfigError("notify: no hooks configured; add a [[notify]] table with a url or a command")
        if name is None:
            return self.notify
        chosen = tuple(hook for hook in self.notify if hook.name == name)
        if not chosen:
            listing = ", ".join(hook.name for hook in self.notify)
            raise ConfigError(f'no hook named "{name}" (configured hooks: {listing})')
        return chosen

    def select_sources(self, names: Sequence[str]) -> tuple[SourceConfig, ...]:
        """The named sources in configuration order (all of them when `names` is empty)."""
        if not names:
            return self.sources
        known = {source.name for source in self.sources}
        for name in names:
            if name not in known:
                if not self.sources:
                    raise ConfigError(f'no source named "{name}": the configuration has no [[sources]]')
                listing = ", ".join(source.name for source in self.sources)
                raise ConfigError(f'no source named "{name}" (configured sources: {listing})')
        wanted = set(names)
        return tuple(source for source in self.sources if source.name in wanted)


# --- reading one value ---------------------------------------------------------------------------

Reader = Callable[[object, str], Any]
"""Turns one raw TOML (or environment) value into its setting, or raises ConfigError naming `key`."""


def _show(value: object) -> str:
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
        raise ConfigError(f"{key}: must be a duration ({_DURATION_HINT}), got {_show(value)}")
    return seconds


def _duration(*, zero_allowed: bool) -> Reader:
    """A reader of durations > 0, or >= 0 where 0 means "off"."""

    def read(value: object, key: str) -> float:
        seconds = parse_duration(value, key)
        if seconds < 0 or (seconds == 0 and not zero_allowed):
            bound = ">= 0" if zero_allowed else "> 0"
            raise ConfigError(f"{key}: must be a duration {bound}, got {_show(value)}")
        return seconds

    return read


def _integer(minimum: int) -> Reader:
    """A reader of integers >= minimum (booleans refused)."""

    def read(value: object, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(f"{key}: must be an integer >= {minimum}, got {_show(value)}")
        return value

    return read


def _fraction(value: object, key: str) -> float:
    """A number in (0, 1]."""
    # 0 would withhold every unfollow; above 1 would never withhold: neither guards anything.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{key}: must be a number > 0 and <= 1, got {_show(value)}")
    return float(value)


def _factor(value: object, key: str) -> float:
    """A number >= 1, or 0 for off."""
    # Between 0 and 1 the guard would withhold passes that lose fewer followers than usual.
    if isinstance(value, bool) or not isinstance(value, int | float) or not (value == 0 or value >= 1):
        raise ConfigError(f"{key}: must be 0 (off) or a number >= 1, got {_show(value)}")
    return float(value)


def _http_url(value: object, key: str) -> str:
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
            f'{key}: must be an http(s) URL without query, such as "{DEFAULT_BASE_URL}", got {_show(value)}'
        )
    return url


_PSYCOPG = "postgresql+psycopg"
_DATABASE_HINT = f"expected sqlite:///PATH or {_PSYCOPG}://USER@HOST/DATABASE"


def _database_url(value: object, key: str) -> str:
    """A SQLite or PostgreSQL (psycopg 3) URL; the value is never shown since it may carry a password."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key}: must be a non-empty string ({_DATABASE_HINT}), got {_show(value)}")
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
        return _PSYCOPG + text[text.index("://") :]
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


def _text(*, why_not_empty: str) -> Reader:
    """A reader of non-empty strings, surrounding whitespace dropped."""

    def read(value: object, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: must be a string, got {_show(value)}")
        if not value.strip():
            raise ConfigError(f"{key}: must not be empty ({why_not_empty})")
        return value.strip()

    return read


def _provider_name(value: object, key: str) -> str:
    """One of PROVIDERS, spelt exactly."""
    if not isinstance(value, str):
        raise ConfigError(f'{key}: must be "linkedin" or "instagram", got {_show(value)}')
    if value not in PROVIDERS:
        raise ConfigError(f"{key}: unknown provider {_show(value)} (expected {_EXPECTED_PROVIDERS})")
    return value


_SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _source_name(value: object, key: str) -> str:
    """A name safe to type on a command line: ASCII letters, digits, '.', '_', '-'."""
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be a string, got {_show(value)}")
    if not _SOURCE_NAME.fullmatch(value):
        # It is typed after --source and shown in reports, so it must survive a shell unquoted.
        raise ConfigError(
            f"{key}: {_show(value)} is not a valid source name (letters, digits, '.', '_' and '-', "
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


def _hook_url(value: object, key: str) -> str:
    """An http(s) URL to POST payloads to; a query is allowed (chat webhooks use them)."""
    url = value.strip() if isinstance(value, str) else ""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        shown = _show(_shown_url(value) if isinstance(value, str) else value)
        raise ConfigError(f"{key}: must be an http:// or https:// URL, got {shown}")
    return url


def _argv(value: object, key: str) -> tuple[str, ...]:
    """A command as an array of arguments (no shell): the program first."""
    if not isinstance(value, list) or not value or not all(isinstance(arg, str) for arg in value):
        raise ConfigError(
            f"{key}: must be an array of strings, the program first, such as "
            f'["/usr/local/bin/on-followers"], got {_show(value)}'
        )
    if not value[0].strip():
        raise ConfigError(f"{key}: the program (the first element) must not be empty")
    return tuple(value)


def _notify_events(value: object, key: str) -> tuple[str, ...]:
    """A non-empty array of the events a hook can ask for."""
    expected = ", ".join(domain.NOTIFY_EVENTS)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: must be a non-empty array of events ({expected}), got {_show(value)}")
    for event in value:
        if event not in domain.NOTIFY_EVENTS:
            raise ConfigError(f"{key}: unknown event {_show(event)} (expected {expected})")
    return tuple(dict.fromkeys(value))


def _source_names(value: object, key: str) -> tuple[str, ...]:
    """A non-empty array of source names (each is checked against [[sources]] once all are read)."""
    if not isinstance(value, list) or not value or not all(isinstance(name, str) for name in value):
        raise ConfigError(f"{key}: must be a non-empty array of source names, got {_show(value)}")
    return tuple(dict.fromkeys(value))


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_name(value: object, key: str) -> str:
    """The name of an environment variable (the value itself never goes in the file)."""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise ConfigError(
            f"{key}: must name an environment variable (letters, digits and '_'), got {_show(value)}; "
            "put the secret itself in that variable, not in the file"
        )
    return value


# --- the reference: every key, once --------------------------------------------------------------


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key: what users read in docs/configuration.md and what the loader checks."""

    key: str  # dotted path; "sources[]." marks a key of each [[sources]] table
    default: str | None  # the default as a TOML literal, as users see it; None when there is none
    meaning: str  # one line for the reference table
    read: Reader = field(repr=False, compare=False)
    required: bool = False

    @property
    def table(self) -> str:
        """The table the key lives in, e.g. "providers.linkedin" or "sources[]"."""
        return self.key.rpartition(".")[0]

    @property
    def name(self) -> str:
        """The key's own name inside its table."""
        return self.key.rpartition(".")[2]


def _provider_keys(provider: str) -> list[ConfigKey]:
    title, maximum = _PROVIDER_TITLES[provider], PROVIDER_MAX_PAGE_SIZE[provider]
    prefix = f"providers.{provider}"
    return [
        ConfigKey(
            f"{prefix}.page_size",
            str(maximum),
            f"followers per request; a larger value is capped at the {title} maximum, {maximum}",
            _integer(1),
        ),
        ConfigKey(
            f"{prefix}.min_request_interval",
            '"3s"',
            "least time between the starts of two requests of one linked account, "
            "random jitter (0-50%) added on top; 0 turns pacing off",
            _duration(zero_allowed=True),
        ),
        ConfigKey(
            f"{prefix}.daily_request_budget",
            "2000",
            "requests per linked account per UTC day, shared by all processes; 0 = unlimited",
            _integer(0),
        ),
        ConfigKey(
            f"{prefix}.cooldown",
            '"5m"',
            "after the provider's limit (500 provider_error, a 429 without Retry-After) and one quick "
            "retry, the linked account rests this long; doubled on each repeat",
            _duration(zero_allowed=False),
        ),
        ConfigKey(
            f"{prefix}.max_cooldown",
            '"1h"',
            "the longest a cool-down grows to",
            _duration(zero_allowed=False),
        ),
    ]


REFERENCE: tuple[ConfigKey, ...] = (
    ConfigKey(
        "api.base_url",
        f'"{DEFAULT_BASE_URL}"',
        "root of the postpress API; the client calls {base_url}/users/followers",
        _http_url,
    ),
    ConfigKey("api.timeout", '"30s"', "timeout of one HTTP request", _duration(zero_allowed=False)),
    ConfigKey("api.max_attempts", "6", "attempts per request, retries included", _integer(1)),
    ConfigKey(
        "api.max_retry_wait",
        '"5m"',
        "most time one request may spend waiting between retries",
        _duration(zero_allowed=True),
    ),
    ConfigKey(
        "database.url",
        f'"{DEFAULT_DATABASE_URL}"',
        f"SQLAlchemy URL: sqlite:///PATH or {_PSYCOPG}://USER:PASSWORD@HOST:PORT/DATABASE",
        _database_url,
    ),
    ConfigKey("sync.concurrency", "8", "sources synced at once (of different linked accounts)", _integer(1)),
    ConfigKey(
        "sync.full_pass_interval",
        '"24h"',
        "mode auto runs a full pass when the source's last complete one is older than this",
        _duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.interval",
        '"1h"',
        "worker: how often each source is synced (incremental between full passes)",
        _duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.lease_ttl",
        '"60s"',
        "how long a dead process's hold on a linked account outlives it (a process of this host that "
        "is gone is taken over at once)",
        _duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.checkpoint_max_age",
        '"12h"',
        "a pass whose last run was abandoned or failed restarts from the beginning once its checkpoint "
        "is older than this; a pass paused by the daily budget or a limit resumes however old",
        _duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.unfollow_guard_fraction",
        "0.25",
        "a full pass that would newly mark more than this fraction of the active followers missing "
        "(and more than unfollow_guard_min) withholds the marking; sync --accept-unfollows marks them",
        _fraction,
    ),
    ConfigKey(
        "sync.unfollow_guard_min",
        "25",
        "the marking is withheld only when it is also more than this many followers",
        _integer(0),
    ),
    ConfigKey(
        "sync.unfollow_history_factor",
        "5.0",
        "a full pass that would newly mark more than this many times the most the source newly missed "
        "in any of its last 10 complete full passes (once it has 5 after the baseline; and more than "
        "unfollow_history_min) withholds the marking too; 0 turns this guard off",
        _factor,
    ),
    ConfigKey(
        "sync.unfollow_history_min",
        "10",
        "the history guard withholds only when it is also more than this many followers",
        _integer(0),
    ),
    ConfigKey(
        "sync.unfollow_confirmations",
        "2",
        "how many consecutive complete full passes must miss a follower before it is an unfollow "
        "(1 = the first pass that does not list them)",
        _integer(1),
    ),
    ConfigKey(
        "sync.confirm_after",
        '"1h"',
        "while followers are missing, the next full pass is due this long after the pass that missed them",
        _duration(zero_allowed=False),
    ),
    *_provider_keys("linkedin"),
    *_provider_keys("instagram"),
    ConfigKey(
        "sources[].name",
        None,
        "unique, stable name used by the CLI (--source), the views and the reports",
        _source_name,
        required=True,
    ),
    ConfigKey("sources[].provider", None, '"linkedin" or "instagram"', _provider_name, required=True),
    ConfigKey(
        "sources[].account_id",
        None,
        "the postpress id of the linked account whose followers are synced",
        _text(why_not_empty="every source needs the postpress id of its linked account"),
        required=True,
    ),
    ConfigKey(
        "sources[].user_id",
        None,
        "whose followers to list; omitted = the linked account's own",
        _text(why_not_empty="omit user_id to list the linked account's own followers"),
    ),
    ConfigKey(
        "notify[].name",
        None,
        'unique name, used by `notify test --name` and in `status`; default "notify-N" (N: its place '
        "in the file)",
        _source_name,
    ),
    ConfigKey("notify[].url", None, "POST each payload (JSON) to this http(s) URL", _hook_url),
    ConfigKey(
        "notify[].command",
        None,
        "or run this program (an array: program and arguments, no shell) with the payload on stdin",
        _argv,
    ),
    ConfigKey(
        "notify[].events",
        '["unfollow", "follow", "profile_change", "withheld", "attention"]',
        "the events this hook gets",
        _notify_events,
    ),
    ConfigKey(
        "notify[].sources", None, "the sources this hook hears about; default every source", _source_names
    ),
    ConfigKey(
        "notify[].secret_env",
        None,
        "the environment variable holding the secret that signs each payload (HMAC-SHA256)",
        _env_name,
    ),
    ConfigKey("notify[].timeout", '"10s"', "how long one delivery may take", _duration(zero_allowed=False)),
    ConfigKey(
        "notify[].backoff",
        '"30s"',
        "wait before retrying a failed delivery; doubles with each failure, up to 1 h; retried for 24 h",
        _duration(zero_allowed=False),
    ),
)


@dataclass(frozen=True)
class EnvVar:
    """One environment variable the loader reads."""

    name: str
    key: str | None  # the configuration key it sets, if any
    meaning: str


ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(
        ENV_API_KEY,
        None,
        "the postpress API key (sent only in the X-API-KEY header); the only way to give it",
    ),
    EnvVar(ENV_DATABASE_URL, "database.url", "overrides database.url"),
    EnvVar(ENV_BASE_URL, "api.base_url", "overrides api.base_url"),
    EnvVar(ENV_CONFIG, None, "path of the configuration file when --config is not given"),
)

_KEYS = {entry.key: entry for entry in REFERENCE}
_TABLE_KEYS: dict[str, dict[str, ConfigKey]] = {}
for _entry in REFERENCE:
    _TABLE_KEYS.setdefault(_entry.table, {})[_entry.name] = _entry
del _entry
_SOURCES = "sources"
_SOURCE_TABLE = "sources[]"
_NOTIFY = "notify"
_ARRAYS = (_SOURCES, _NOTIFY)  # the top-level arrays of tables: [[sources]], [[notify]]
_API_KEY_NAMES = {"api_key", "apikey", "x_api_key", "postpress_api_key"}


def _child_tables(table: str) -> list[str]:
    """The tables directly inside `table` ("" is the top level), in reference order."""
    children: list[str] = []
    for path in _TABLE_KEYS:
        parts = path.removesuffix("[]").split(".")
        for depth, name in enumerate(parts):
            if ".".join(parts[:depth]) == table and name not in children:
                children.append(name)
    return children


# --- loading -------------------------------------------------------------------------------------


def load_settings(config_path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Find, read and validate the configuration; raise ConfigError (one line naming the key) if bad."""
    env = os.environ if env is None else env
    path = _find_config_file(config_path, env)
    values: dict[str, Any] = {}
    arrays: dict[str, list[dict[str, Any]]] = {name: [] for name in _ARRAYS}
    hooks: tuple[HookConfig, ...] = ()
    if path is not None:
        data = _read_toml(path)
        try:
            _read_table(data, "", values, arrays)
            checked = _check_sources(arrays[_SOURCES])
            hooks = _check_hooks(arrays[_NOTIFY], checked)
        except ConfigError as error:
            raise ConfigError(f"{error} (in {path})") from None
    else:
        checked = ()

    for var in ENVIRONMENT:
        raw = env.get(var.name, "").strip()
        if var.key is not None and raw:
            values[var.key] = _KEYS[var.key].read(raw, f"{var.key} (from {var.name})")

    warnings: list[str] = []
    providers = {}
    for provider in PROVIDERS:
        section = _section(values, f"providers.{provider}")
        maximum = PROVIDER_MAX_PAGE_SIZE[provider]
        page_size = section.setdefault("page_size", maximum)
        if page_size > maximum:
            warnings.append(
                f"providers.{provider}.page_size: {page_size} is above the {_PROVIDER_TITLES[provider]} "
                f"maximum of {maximum}; using {maximum}"
            )
            section["page_size"] = maximum
        providers[provider] = ProviderSettings(**section)
    warnings.extend(_same_followers_warnings(checked))

    api_key = env.get(ENV_API_KEY, "").strip() or None
    return Settings(
        api=dataclasses.replace(ApiSettings(), **_section(values, "api"), api_key=api_key),
        database=dataclasses.replace(DatabaseSettings(), **_section(values, "database")),
        sync=dataclasses.replace(SyncSettings(), **_section(values, "sync")),
        providers=providers,
        sources=checked,
        notify=hooks,
        config_path=path,
        warnings=tuple(warnings),
    )


def _find_config_file(config_path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """--config PATH, else FOLLOWERSYNC_CONFIG, else ./followersync.toml if present, else no file."""
    if config_path is not None:
        path, origin = Path(config_path), "config file"
    elif env.get(ENV_CONFIG, "").strip():
        path, origin = Path(env[ENV_CONFIG].strip()), f"config file (from {ENV_CONFIG})"
    else:
        default = Path(CONFIG_FILE_NAME)
        return default if default.is_file() else None
    # A path the user named must exist: silently running on defaults would sync into the wrong database.
    if path.is_dir():
        raise ConfigError(f"{origin} {path} is a directory, not a TOML file")
    if not path.is_file():
        raise ConfigError(f"{origin} {path} does not exist")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message carries "(at line N, column M)" and never the file's values.
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None


def _read_table(
    data: Mapping[str, Any], table: str, values: dict[str, Any], arrays: dict[str, list[dict[str, Any]]]
) -> None:
    """Check one TOML table against REFERENCE, adding its read values (by dotted key) to `values`."""
    keys = _TABLE_KEYS.get(table, {})
    children = _child_tables(table)
    for name, value in data.items():
        dotted = f"{table}.{name}" if table else name
        if name in keys:
            values[dotted] = keys[name].read(value, dotted)
        elif table == "" and name in arrays:
            arrays[name].extend(_array_tables(name, value))
        elif name in children:
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: must be a table ([{dotted}]), got {_show(value)}")
            _read_table(value, dotted, values, arrays)
        else:
            raise ConfigError(_unknown_key(dotted, table, name, [*keys, *children]))


def _array_tables(array: str, value: object) -> list[dict[str, Any]]:
    """The [[sources]] or [[notify]] tables, each read against REFERENCE (missing keys are checked
    afterwards)."""
    if not isinstance(value, list):
        shown = f"a table ([{array}])" if isinstance(value, dict) else _show(value)
        raise ConfigError(f"{array}: must be an array of tables ([[{array}]]), got {shown}")
    tables: list[dict[str, Any]] = []
    keys = _TABLE_KEYS[f"{array}[]"]
    for number, item in enumerate(value, start=1):
        label = f"{array}[{number}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: must be a table ([[{array}]]), got {_show(item)}")
        read: dict[str, Any] = {}
        for name, raw in item.items():
            if name not in keys:
                raise ConfigError(_unknown_key(f"{label}.{name}", f"{array}[]", name, list(keys)))
            read[name] = keys[name].read(raw, f"{label}.{name}")
        tables.append(read)
    return tables


def _check_sources(tables: list[dict[str, Any]]) -> tuple[SourceConfig, ...]:
    """Required keys present and names unique, numbering sources from 1 in file order."""
    seen: dict[str, int] = {}
    sources: list[SourceConfig] = []
    for number, table in enumerate(tables, start=1):
        for entry in _TABLE_KEYS[_SOURCE_TABLE].values():
            if entry.required and entry.name not in table:
                raise ConfigError(f"{_SOURCES}[{number}].{entry.name}: missing ({entry.meaning})")
        name = table["name"]
        if name in seen:
            raise ConfigError(
                f'{_SOURCES}: duplicate source name "{name}" (sources[{seen[name]}] and sources[{number}])'
            )
        seen[name] = number
        sources.append(SourceConfig(**table))
    return tuple(sources)


def _check_hooks(tables: list[dict[str, Any]], sources: Sequence[SourceConfig]) -> tuple[HookConfig, ...]:
    """Each hook has exactly one of url and command, a unique name, and names only configured sources."""
    known = [source.name for source in sources]
    seen: dict[str, int] = {}
    hooks: list[HookConfig] = []
    for number, table in enumerate(tables, start=1):
        label = f"{_NOTIFY}[{number}]"
        if ("url" in table) == ("command" in table):
            which = "both" if "url" in table else "neither"
            raise ConfigError(f"{label}: give either url or command, not {which}")
        for name in table.get("sources", ()):
            if name not in known:
                listing = ", ".join(known) if known else "none: the configuration has no [[sources]]"
                raise ConfigError(
                    f'{label}.sources: no source named "{name}" (configured sources: {listing})'
                )
        name = table.setdefault("name", f"notify-{number}")
        if name in seen:
            raise ConfigError(f'{_NOTIFY}: duplicate hook name "{name}" (notify[{seen[name]}] and {label})')
        seen[name] = number
        hooks.append(HookConfig(number=number, **table))
    return tuple(hooks)


def _same_followers_warnings(sources: Sequence[SourceConfig]) -> list[str]:
    # Not an error (a rename in progress is legitimate) but it spends the account's budget twice.
    first: dict[tuple[str, str, str | None], SourceConfig] = {}
    warnings = []
    for source in sources:
        target = (source.provider, source.account_id, source.user_id)
        if target in first:
            warnings.append(
                f'sources: "{source.name}" lists the same followers as "{first[target].name}" '
                "(same provider, account_id and user_id)"
            )
        first.setdefault(target, source)
    return warnings


def _unknown_key(dotted: str, table: str, name: str, known: list[str]) -> str:
    """The message for a key REFERENCE does not know, with the likely intended key when there is one."""
    if name.lower().replace("-", "_") in _API_KEY_NAMES:
        # The value is deliberately not echoed: it is a secret the user just put in a file.
        return (
            f"{dotted}: the API key does not belong in the file; set {ENV_API_KEY} in the environment instead"
        )
    elsewhere = [
        e.table for e in REFERENCE if e.name == name and e.table != table and not e.table.endswith("[]")
    ]
    if table == "providers":
        if elsewhere:
            return f"{dotted}: set it per provider, in [providers.linkedin] or [providers.instagram]"
        return f"{dotted}: unknown provider (expected {_EXPECTED_PROVIDERS})"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        hint = f'did you mean "{close[0]}"?'
    elif elsewhere:
        hint = "it belongs in " + " or ".join(f"[{t}]" for t in elsewhere)
    else:
        hint = f"known {'tables' if table == '' else 'keys'}: {', '.join(known)}"
    return f"{dotted}: unknown key ({hint})"


def _section(values: Mapping[str, Any], table: str) -> dict[str, Any]:
    """The read values of one table, by their names inside it."""
    return {key.rpartition(".")[2]: value for key, value in values.items() if key.rpartition(".")[0] == table}


# What an HTTP header value may carry, and so an API key: visible ASCII, no space. The one definition
# of a valid key: the API client guards its header with it too.
_VALID_API_KEY = re.compile(r"[\x21-\x7e]+")


def api_key_problem(key: str) -> str | None:
    """What is wrong with `key` as an API key (None: nothing), in words that never repeat the key: the
    first character the header cannot carry, by kind and position."""
    if _VALID_API_KEY.fullmatch(key):
        return None
    if not key:
        return "is empty"
    position, char = next((n, c) for n, c in enumerate(key, 1) if not _VALID_API_KEY.fullmatch(c))
    kinds = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
    if char in kinds:
        kind = kinds[char]
    elif ord(char) > 0x7E and char.isprintable():
        kind = "a non-ASCII character"
    else:
        kind = "an invisible character"
    return f"contains {kind} (character {position} of {len(key)})"


# `sqlite:///PATH`, the commonest database URL: SQLAlchemy's URL parser reads such a URL as the SQLite
# driver and the database PATH, the whole of the text after the third slash (it unquotes nothing
# there), so this form needs no parser: every command reads the configuration, and `followersync
# status` starts without SQLAlchemy. Any other URL (a query string, a host, PostgreSQL) is
# SQLAlchemy's to read.
_SQLITE_FILE_URL = re.compile(r"sqlite(?:\+pysqlite)?:///(?P<path>[^?]+)")


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL (relative to the working directory, as for SQLAlchemy); None for any
    other database, a SQLite driver other than followersync's (pysqlite) and an in-memory database
    (`sqlite://`, `:memory:`, `mode=memory`). The one answer to "is this a SQLite file": the check of
    database.url, `status`' read through the sqlite3 driver, the folder check and
    `db.require_schema` all ask it. Of a SQLite `file:` URI (`uri=true`), the file is the URI's path.
    """
    match = _SQLITE_FILE_URL.fullmatch(url)
    if match is not None:
        return None if match["path"] == ":memory:" else match["path"]
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    path = parsed.database
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite") or parsed.query.get("mode") == "memory":
        return None
    if path and parsed.query.get("uri") and path.startswith("file:"):
        path = unquote(urlsplit(path).path)
    return None if path in (None, "", ":memory:") else path


def safe_database_url(url: str) -> str:
    """A database URL with its password (also one given as ?password=) replaced by ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable database URL>"
    query = {k: ("***" if k.lower() == "password" else v) for k, v in parsed.query.items()}
    return parsed.set(query=query).render_as_string(hide_password=True).replace("%2A%2A%2A", "***")
