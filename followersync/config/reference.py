"""REFERENCE: every configuration key once, with its default as users see it, its meaning and its
reader; ENVIRONMENT: every environment variable the loader reads.

The loader knows the valid keys from REFERENCE (load.py), and docs/configuration.md is written from it
(tests/test_config_docs.py keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from followersync.config.model import (
    DEFAULT_BASE_URL,
    DEFAULT_DATABASE_URL,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_CONFIG,
    ENV_DATABASE_URL,
    PROVIDER_MAX_PAGE_SIZE,
    PROVIDER_TITLES,
)
from followersync.config.readers import (
    PSYCOPG,
    Reader,
    argv,
    database_url,
    duration,
    env_name,
    factor,
    fraction,
    hook_url,
    http_url,
    integer,
    non_empty_text,
    notify_events,
    provider_name,
    source_name,
    source_names,
)


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
    title, maximum = PROVIDER_TITLES[provider], PROVIDER_MAX_PAGE_SIZE[provider]
    prefix = f"providers.{provider}"
    return [
        ConfigKey(
            f"{prefix}.page_size",
            str(maximum),
            f"followers per request; a larger value is capped at the {title} maximum, {maximum}",
            integer(1),
        ),
        ConfigKey(
            f"{prefix}.min_request_interval",
            '"3s"',
            "least time between the starts of two requests of one linked account, "
            "random jitter (0-50%) added on top; 0 turns pacing off",
            duration(zero_allowed=True),
        ),
        ConfigKey(
            f"{prefix}.daily_request_budget",
            "2000",
            "requests per linked account per UTC day, shared by all processes; 0 = unlimited",
            integer(0),
        ),
        ConfigKey(
            f"{prefix}.cooldown",
            '"5m"',
            "after the provider's limit (500 provider_error, a 429 without Retry-After) and one quick "
            "retry, the linked account rests this long; doubled on each repeat",
            duration(zero_allowed=False),
        ),
        ConfigKey(
            f"{prefix}.max_cooldown",
            '"1h"',
            "the longest a cool-down grows to",
            duration(zero_allowed=False),
        ),
    ]


REFERENCE: tuple[ConfigKey, ...] = (
    ConfigKey(
        "api.base_url",
        f'"{DEFAULT_BASE_URL}"',
        "root of the postpress API; the client calls {base_url}/users/followers",
        http_url,
    ),
    ConfigKey("api.timeout", '"30s"', "timeout of one HTTP request", duration(zero_allowed=False)),
    ConfigKey("api.max_attempts", "6", "attempts per request, retries included", integer(1)),
    ConfigKey(
        "api.max_retry_wait",
        '"5m"',
        "most time one request may spend waiting between retries",
        duration(zero_allowed=True),
    ),
    ConfigKey(
        "database.url",
        f'"{DEFAULT_DATABASE_URL}"',
        f"SQLAlchemy URL: sqlite:///PATH or {PSYCOPG}://USER:PASSWORD@HOST:PORT/DATABASE",
        database_url,
    ),
    ConfigKey("sync.concurrency", "8", "sources synced at once (of different linked accounts)", integer(1)),
    ConfigKey(
        "sync.full_pass_interval",
        '"24h"',
        "mode auto runs a full pass when the source's last complete one is older than this",
        duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.interval",
        '"1h"',
        "worker: how often each source is synced (incremental between full passes)",
        duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.lease_ttl",
        '"60s"',
        "how long a dead process's hold on a linked account outlives it (a process of this host that "
        "is gone is taken over at once)",
        duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.checkpoint_max_age",
        '"12h"',
        "a pass whose last run was abandoned or failed restarts from the beginning once its checkpoint "
        "is older than this; a pass paused by the daily budget or a limit resumes however old",
        duration(zero_allowed=False),
    ),
    ConfigKey(
        "sync.unfollow_guard_fraction",
        "0.25",
        "a full pass that would newly mark more than this fraction of the active followers missing "
        "(and more than unfollow_guard_min) withholds the marking; sync --accept-unfollows marks them",
        fraction,
    ),
    ConfigKey(
        "sync.unfollow_guard_min",
        "25",
        "the marking is withheld only when it is also more than this many followers",
        integer(0),
    ),
    ConfigKey(
        "sync.unfollow_history_factor",
        "5.0",
        "a full pass that would newly mark more than this many times the most the source newly missed "
        "in any of its last 10 complete full passes (once it has 5 after the baseline; and more than "
        "unfollow_history_min) withholds the marking too; 0 turns this guard off",
        factor,
    ),
    ConfigKey(
        "sync.unfollow_history_min",
        "10",
        "the history guard withholds only when it is also more than this many followers",
        integer(0),
    ),
    ConfigKey(
        "sync.unfollow_confirmations",
        "2",
        "how many consecutive complete full passes must miss a follower before it is an unfollow "
        "(1 = the first pass that does not list them)",
        integer(1),
    ),
    ConfigKey(
        "sync.confirm_after",
        '"1h"',
        "while followers are missing, the next full pass is due this long after the pass that missed them",
        duration(zero_allowed=False),
    ),
    *_provider_keys("linkedin"),
    *_provider_keys("instagram"),
    ConfigKey(
        "sources[].name",
        None,
        "unique, stable name used by the CLI (--source), the views and the reports",
        source_name,
        required=True,
    ),
    ConfigKey("sources[].provider", None, '"linkedin" or "instagram"', provider_name, required=True),
    ConfigKey(
        "sources[].account_id",
        None,
        "the postpress id of the linked account whose followers are synced",
        non_empty_text(why_not_empty="every source needs the postpress id of its linked account"),
        required=True,
    ),
    ConfigKey(
        "sources[].user_id",
        None,
        "whose followers to list; omitted = the linked account's own",
        non_empty_text(why_not_empty="omit user_id to list the linked account's own followers"),
    ),
    ConfigKey(
        "notify[].name",
        None,
        'unique name, used by `notify test --name` and in `status`; default "notify-N" (N: its place '
        "in the file)",
        source_name,
    ),
    ConfigKey("notify[].url", None, "POST each payload (JSON) to this http(s) URL", hook_url),
    ConfigKey(
        "notify[].command",
        None,
        "or run this program (an array: program and arguments, no shell) with the payload on stdin",
        argv,
    ),
    ConfigKey(
        "notify[].events",
        '["unfollow", "follow", "profile_change", "withheld", "attention"]',
        "the events this hook gets",
        notify_events,
    ),
    ConfigKey(
        "notify[].sources", None, "the sources this hook hears about; default every source", source_names
    ),
    ConfigKey(
        "notify[].secret_env",
        None,
        "the environment variable holding the secret that signs each payload (HMAC-SHA256)",
        env_name,
    ),
    ConfigKey("notify[].timeout", '"10s"', "how long one delivery may take", duration(zero_allowed=False)),
    ConfigKey(
        "notify[].backoff",
        '"30s"',
        "wait before retrying a failed delivery; doubles with each failure, up to 1 h; retried for 24 h",
        duration(zero_allowed=False),
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
