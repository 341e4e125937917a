"""The settings themselves: frozen dataclasses that everything past the loader trusts, and ConfigError.

    Settings
      ├── api: ApiSettings             the postpress API; the key only from POSTPRESS_API_KEY
      ├── database: DatabaseSettings   a SQLAlchemy URL; its password never in a repr or a message
      ├── sync: SyncSettings           planning, scheduling and guarding passes
      ├── providers: ProviderSettings  paging and pacing, per provider
      ├── sources: SourceConfig        the [[sources]] tables
      └── notify: HookConfig           the [[notify]] tables

Also what the settings' own values are: `sqlite_file` (the one answer to "is this a SQLite file"),
`safe_database_url` and `api_key_problem`. No rule of what is done with the settings lives here: when a
full pass is due is `sync.rules.full_pass_due`, which events a hook gets and its signing secret are in
followersync/notify/.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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

PROVIDER_TITLES = {p.name: p.title for p in domain.PROVIDERS.values()}
EXPECTED_PROVIDERS = " or ".join(PROVIDERS)


class ConfigError(domain.FollowersyncError):
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
            raise ConfigError(f'unknown provider "{name}" (expected {EXPECTED_PROVIDERS})') from None

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
