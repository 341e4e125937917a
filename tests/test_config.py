"""The configuration loader: file resolution, env overrides, every validation rule, docs kept in step.

Every test passes `env=` explicitly and runs in its own working directory, so neither the real
environment nor a followersync.toml lying around can leak in.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.config import (
    ENVIRONMENT,
    PROVIDER_MAX_PAGE_SIZE,
    REFERENCE,
    ApiSettings,
    ConfigError,
    ConfigKey,
    DatabaseSettings,
    HookConfig,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
    load_settings,
    parse_duration,
    sqlite_file,
)
from followersync.notify.deliver import hook_secret, require_secrets
from followersync.notify.record import wants

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"

# The two examples of docs/configuration.md#examples, verbatim (test_docs_show_both_examples_verbatim).
SOURCES_EXAMPLE = """\
[api]
base_url = "https://api.postpress.ai/api/v1"   # the client calls {base_url}/users/followers

[database]
url = "sqlite:///followersync.db"

[[sources]]
name = "acme-page"            # unique, stable; used by the CLI, the views and the reports
provider = "linkedin"         # "linkedin" | "instagram"
account_id = "acc_linkedin_01HXYZ4QK3WJ8FN3M6QH7TZ8GR"
user_id = "ACoAACr-1eYBl"     # optional: whose followers; omitted = the linked account's own

[[sources]]
name = "brand-ig"
provider = "instagram"
account_id = "acc_ig_01HXYZ"
"""

DEFAULTS_EXAMPLE = """\
[api]
timeout = "30s"                  # per request
max_attempts = 6                 # per request, retries included
max_retry_wait = "5m"            # total backoff for one request

[sync]
concurrency = 8                  # sources synced at once (different linked accounts)
full_pass_interval = "24h"       # mode auto: full pass when the last complete one is older
interval = "1h"                  # worker: how often a source is synced (incremental between full passes)
lease_ttl = "60s"                # how long a dead process's hold on an account outlives it
checkpoint_max_age = "12h"       # an abandoned or failed pass's older checkpoint restarts it (a budget pause never does)
unfollow_guard_fraction = 0.25
unfollow_guard_min = 25
unfollow_confirmations = 2       # consecutive complete full passes that must miss a follower (1 = the first)
confirm_after = "1h"             # a full pass that left followers missing makes the next full pass due this soon

[providers.linkedin]             # and [providers.instagram]
page_size = 100                  # capped at the provider maximum (LinkedIn 100, Instagram 200)
min_request_interval = "3s"      # per linked account; random jitter added on top
daily_request_budget = 2000      # per linked account, shared by all processes; 0 = unlimited
"""  # noqa: E501 (the example of docs/configuration.md, verbatim)

SOURCE = '[[sources]]\nname = "acme"\nprovider = "linkedin"\naccount_id = "acc_1"\n'


@pytest.fixture(autouse=True)
def _own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(text: str, name: str = "followersync.toml") -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def load_text(text: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(write(text, "given.toml"), env=env or {})


def config_error(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_text(text, env)
    message = str(caught.value)
    assert "\n" not in message, "a configuration error is one line"
    return message


# --- defaults and the documented examples ----------------------------------------------------------


def test_no_file_means_every_default_and_no_sources() -> None:
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.config_path is None
    assert settings.sources == ()
    assert settings.warnings == ()
    assert settings.database.url == "sqlite:///followersync.db"
    assert settings.api.base_url == "https://api.postpress.ai/api/v1"
    assert settings.providers["linkedin"].page_size == 100
    assert settings.providers["instagram"].page_size == 200


def test_the_sources_example_loads() -> None:
    settings = load_text(SOURCES_EXAMPLE)
    assert settings.sources == (
        SourceConfig("acme-page", "linkedin", "acc_linkedin_01HXYZ4QK3WJ8FN3M6QH7TZ8GR", "ACoAACr-1eYBl"),
        SourceConfig("brand-ig", "instagram", "acc_ig_01HXYZ", None),
    )
    assert settings.api.base_url == "https://api.postpress.ai/api/v1"
    assert settings.database.url == "sqlite:///followersync.db"
    assert settings.warnings == ()


def test_the_defaults_example_loads_and_is_every_default() -> None:
    settings = load_text(DEFAULTS_EXAMPLE)
    assert settings.api == ApiSettings(timeout=30.0, max_attempts=6, max_retry_wait=300.0)
    assert settings.sync == SyncSettings(
        concurrency=8,
        full_pass_interval=86400.0,
        interval=3600.0,
        lease_ttl=60.0,
        checkpoint_max_age=43200.0,
        unfollow_guard_fraction=0.25,
        unfollow_guard_min=25,
    )
    assert settings.providers["linkedin"] == ProviderSettings(100, 3.0, 2000)
    assert settings.providers["instagram"] == ProviderSettings(200, 3.0, 2000)
    assert dataclasses.replace(settings, config_path=None) == Settings()


def test_every_key_read_into_its_setting() -> None:
    settings = load_text(
        """
        [api]
        base_url = "http://127.0.0.1:8000/v1"
        timeout = 12
        max_attempts = 1
        max_retry_wait = 0
        [database]
        url = "sqlite:////var/lib/fs.db"
        [sync]
        concurrency = 2
        full_pass_interval = "2d"
        interval = "15m"
        lease_ttl = 30.5
        checkpoint_max_age = "6h"
        unfollow_guard_fraction = 1
        unfollow_guard_min = 0
        [providers.linkedin]
        page_size = 10
        min_request_interval = 0
        daily_request_budget = 0
        [providers.instagram]
        page_size = 50
        min_request_interval = "500ms"
        daily_request_budget = 10
        """
    )
    assert settings.api == ApiSettings("http://127.0.0.1:8000/v1", 12.0, 1, 0.0)
    assert settings.database.url == "sqlite:////var/lib/fs.db"
    assert settings.sync == SyncSettings(2, 172800.0, 900.0, 30.5, 21600.0, 1.0, 0)
    assert settings.providers["linkedin"] == ProviderSettings(10, 0.0, 0)
    assert settings.providers["instagram"] == ProviderSettings(50, 0.5, 10)
    assert isinstance(settings.sync.unfollow_guard_fraction, float)


# --- which file --------------------------------------------------------------------------------------


def test_explicit_path_beats_env_and_working_directory() -> None:
    write("[sync]\nconcurrency = 1\n")
    write("[sync]\nconcurrency = 2\n", "from-env.toml")
    explicit = write("[sync]\nconcurrency = 3\n", "explicit.toml")
    settings = load_settings(str(explicit), env={"FOLLOWERSYNC_CONFIG": "from-env.toml"})
    assert settings.sync.concurrency == 3
    assert settings.config_path == explicit


def test_env_path_beats_working_directory() -> None:
    write("[sync]\nconcurrency = 1\n")
    write("[sync]\nconcurrency = 2\n", "from-env.toml")
    settings = load_settings(env={"FOLLOWERSYNC_CONFIG": "from-env.toml"})
    assert settings.sync.concurrency == 2
    assert settings.config_path == Path("from-env.toml")


def test_working_directory_file_is_read_when_nothing_else_names_one() -> None:
    write("[sync]\nconcurrency = 1\n")
    settings = load_settings(env={})
    assert settings.sync.concurrency == 1
    assert settings.config_path == Path("followersync.toml")


def test_empty_env_path_counts_as_unset() -> None:
    write("[sync]\nconcurrency = 1\n")
    assert load_settings(env={"FOLLOWERSYNC_CONFIG": ""}).sync.concurrency == 1


def test_missing_explicit_path_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"config file nowhere\.toml does not exist"):
        load_settings("nowhere.toml", env={})


def test_missing_env_path_is_an_error_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"FOLLOWERSYNC_CONFIG.*nowhere\.toml does not exist"):
        load_settings(env={"FOLLOWERSYNC_CONFIG": "nowhere.toml"})


def test_directory_as_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_settings(tmp_path, env={})


# --- environment overrides ---------------------------------------------------------------------------


def test_env_overrides_the_file() -> None:
    settings = load_text(
        '[api]\nbase_url = "https://file.example/api/v1"\n[database]\nurl = "sqlite:///file.db"\n',
        env={
            "POSTPRESS_API_KEY": "k-123",
            "FOLLOWERSYNC_DATABASE_URL": "sqlite:///env.db",
            "FOLLOWERSYNC_BASE_URL": "http://127.0.0.1:9000/api/v1/",
        },
    )
    assert settings.api.api_key == "k-123"
    assert settings.database.url == "sqlite:///env.db"
    assert settings.api.base_url == "http://127.0.0.1:9000/api/v1"


def test_env_overrides_apply_without_a_file() -> None:
    settings = load_settings(env={"FOLLOWERSYNC_DATABASE_URL": "sqlite:///env.db", "POSTPRESS_API_KEY": "k"})
    assert settings.database.url == "sqlite:///env.db"
    assert settings.require_api_key() == "k"


def test_empty_env_values_count_as_unset() -> None:
    settings = load_settings(
        env={"POSTPRESS_API_KEY": "  ", "FOLLOWERSYNC_DATABASE_URL": "", "FOLLOWERSYNC_BASE_URL": ""}
    )
    assert settings == Settings()


def test_api_key_surrounding_whitespace_is_dropped() -> None:
    assert load_settings(env={"POSTPRESS_API_KEY": "k-123\n"}).api.api_key == "k-123"


def test_bad_env_value_names_key_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"FOLLOWERSYNC_BASE_URL": "ftp://example.com"})
    assert str(caught.value).startswith("api.base_url (from FOLLOWERSYNC_BASE_URL): must be an http(s) URL")


def test_api_key_in_the_file_is_an_error_that_does_not_echo_it() -> None:
    message = config_error('[api]\napi_key = "sk-live-secret"\n')
    assert message.startswith("api.api_key: ")
    assert "POSTPRESS_API_KEY" in message
    assert "sk-live-secret" not in message


def test_api_key_anywhere_in_the_file_gets_the_same_advice() -> None:
    assert "set POSTPRESS_API_KEY" in config_error('api_key = "x"\n')


# --- the API key and secrets -------------------------------------------------------------------------


def test_require_api_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}).require_api_key()
    assert str(caught.value) == (
        "POSTPRESS_API_KEY is not set: the sync and worker commands need the postpress API key "
        "in the environment"
    )
    assert load_settings(env={"POSTPRESS_API_KEY": "k"}).require_api_key() == "k"


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("sim key", "contains a space (character 4 of 7)"),
        ("a\tb", "contains a tab (character 2 of 3)"),
        ("clé", "contains a non-ASCII character (character 3 of 3)"),
        ("a\x00b", "contains an invisible character (character 2 of 3)"),
    ],
)
def test_require_api_key_refuses_a_key_the_header_cannot_carry(key: str, problem: str) -> None:
    settings = load_settings(env={"POSTPRESS_API_KEY": key})  # loading alone is fine: status needs no key
    with pytest.raises(ConfigError) as caught:
        settings.require_api_key()
    assert str(caught.value).startswith(f"POSTPRESS_API_KEY: {problem}; ")
    assert key not in str(caught.value)


def test_api_key_never_in_repr_or_str() -> None:
    settings = load_text(SOURCES_EXAMPLE, env={"POSTPRESS_API_KEY": "sk-very-secret-key"})
    assert settings.api.api_key == "sk-very-secret-key"
    for text in (repr(settings), str(settings), repr(settings.api), str(settings.api)):
        assert "sk-very-secret-key" not in text


def test_database_password_hidden_in_repr_and_safe_url() -> None:
    settings = load_settings(env={"FOLLOWERSYNC_DATABASE_URL": "postgresql+psycopg://fs:hunter2@db:5432/fs"})
    assert settings.database.url == "postgresql+psycopg://fs:hunter2@db:5432/fs"
    assert settings.database.safe_url == "postgresql+psycopg://fs:***@db:5432/fs"
    for text in (repr(settings), str(settings), repr(settings.database)):
        assert "hunter2" not in text
    assert "fs:***@db" in repr(settings.database)


def test_database_password_in_the_query_is_hidden_too() -> None:
    database = DatabaseSettings("postgresql+psycopg://fs@db/fs?password=hunter2&sslmode=require")
    assert "hunter2" not in database.safe_url
    assert "sslmode=require" in database.safe_url


def test_database_password_never_in_a_message() -> None:
    for url in ("mysql://fs:hunter2@db/fs", "postgresql+asyncpg://fs:hunter2@db/fs", "not a url hunter2"):
        message = config_error(f'[database]\nurl = "{url}"\n')
        assert message.startswith("database.url: ")
        assert "hunter2" not in message


# --- database URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///followersync.db", "sqlite:///followersync.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+pysqlite:///x.db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        # psycopg 3 is the installed driver: the bare forms would ask SQLAlchemy for psycopg2.
        ("postgresql://u:p%40ss@h:5433/db", "postgresql+psycopg://u:p%40ss@h:5433/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("  sqlite:///my data.db ", "sqlite:///my data.db"),
    ],
)
def test_database_urls(given: str, used: str) -> None:
    assert load_text(f'[database]\nurl = "{given}"\n').database.url == used


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite://",
        "sqlite:///file:x?mode=memory&uri=true",
        "sqlite:///file::memory:?uri=true",
    ],
)
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    """It would live in one connection: `sync` would find no table in the others, and `migrate`
    would migrate a database thrown away as it exits (issue #22)."""
    assert config_error(f'[database]\nurl = "{url}"\n') == (
        "database.url: an in-memory SQLite database does not outlive one connection, let alone the "
        "command; give a file: sqlite:///PATH (in given.toml)"
    )


# --- validation: one line naming the key ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown keys, in every kind of table
        ("[sync]\nconcurency = 3\n", 'sync.concurency: unknown key (did you mean "concurrency"?)'),
        ("[api]\nretries = 3\n", "api.retries: unknown key (known keys: base_url, timeout,"),
        ("[database]\npath = 'x.db'\n", "database.path: unknown key"),
        ("[providers.linkedin]\npage = 3\n", "providers.linkedin.page: unknown key"),
        (
            "[logging]\nlevel = 'info'\n",
            "logging: unknown key (known tables: api, database, sync, providers,",
        ),
        ("base_url = 'https://x'\n", "base_url: unknown key (it belongs in [api])"),
        ("[providers.tiktok]\npage_size = 3\n", "providers.tiktok: unknown provider (expected linkedin or"),
        ("[providers]\npage_size = 3\n", "providers.page_size: set it per provider, in [providers.linkedin]"),
        (SOURCE + "acount_id = 'x'\n", "sources[1].acount_id: unknown key"),
        # tables that are not tables
        ("api = 3\n", "api: must be a table ([api]), got 3"),
        ("providers = 'linkedin'\n", 'providers: must be a table ([providers]), got "linkedin"'),
        ("[providers]\nlinkedin = 100\n", "providers.linkedin: must be a table"),
        ("[sources]\nname = 'a'\n", "sources: must be an array of tables ([[sources]]), got a table"),
        ("sources = 'acme'\n", 'sources: must be an array of tables ([[sources]]), got "acme"'),
        ("sources = ['acme']\n", 'sources[1]: must be a table ([[sources]]), got "acme"'),
        # [api]
        ("[api]\nbase_url = 'ftp://example.com'\n", "api.base_url: must be an http(s) URL"),
        ("[api]\nbase_url = 'example.com/api'\n", "api.base_url: must be an http(s) URL"),
        ("[api]\nbase_url = 'https://x/api?a=1'\n", "api.base_url: must be an http(s) URL"),
        ("[api]\nbase_url = 3\n", "api.base_url: must be an http(s) URL"),
        ("[api]\nbase_url = 'http://[::1/api'\n", "api.base_url: must be an http(s) URL"),
        ("[api]\nbase_url = 'https://x/api#top'\n", "api.base_url: must be an http(s) URL"),
        ("[api]\ntimeout = 0\n", "api.timeout: must be a duration > 0, got 0"),
        ("[api]\ntimeout = '-5s'\n", 'api.timeout: must be a duration > 0, got "-5s"'),
        ("[api]\ntimeout = true\n", "api.timeout: must be a duration (a number of seconds or a string"),
        ("[api]\ntimeout = '30'\n", "api.timeout: must be a duration (a number of seconds or a string like"),
        ("[api]\ntimeout = inf\n", "api.timeout: must be a duration"),
        ("[api]\nmax_attempts = 0\n", "api.max_attempts: must be an integer >= 1, got 0"),
        ("[api]\nmax_attempts = 2.5\n", "api.max_attempts: must be an integer >= 1, got 2.5"),
        ("[api]\nmax_attempts = '6'\n", 'api.max_attempts: must be an integer >= 1, got "6"'),
        ("[api]\nmax_retry_wait = -1\n", "api.max_retry_wait: must be a duration >= 0, got -1"),
        # [database]
        ("[database]\nurl = ''\n", "database.url: must be a non-empty string"),
        ("[database]\nurl = 5\n", "database.url: must be a non-empty string"),
        ("[database]\nurl = 'mysql://u@h/db'\n", 'database.url: unsupported database "mysql"'),
        ("[database]\nurl = 'postgresql+psycopg2://u@h/db'\n", 'database.url: driver "psycopg2" is not'),
        ("[database]\nurl = 'nonsense'\n", "database.url: not a database URL"),
        # [sync]
        ("[sync]\nconcurrency = 0\n", "sync.concurrency: must be an integer >= 1, got 0"),
        ("[sync]\nconcurrency = true\n", "sync.concurrency: must be an integer >= 1, got true"),
        ("[sync]\nfull_pass_interval = 0\n", "sync.full_pass_interval: must be a duration > 0, got 0"),
        ("[sync]\ninterval = '0s'\n", 'sync.interval: must be a duration > 0, got "0s"'),
        ("[sync]\nlease_ttl = -60\n", "sync.lease_ttl: must be a duration > 0, got -60"),
        ("[sync]\ncheckpoint_max_age = 'soon'\n", "sync.checkpoint_max_age: must be a duration ("),
        (
            "[sync]\nunfollow_guard_fraction = 0\n",
            "sync.unfollow_guard_fraction: must be a number > 0 and <= 1",
        ),
        ("[sync]\nunfollow_guard_fraction = 1.5\n", "sync.unfollow_guard_fraction: must be a number > 0 and"),
        ("[sync]\nunfollow_guard_fraction = nan\n", "sync.unfollow_guard_fraction: must be a number > 0 and"),
        ("[sync]\nunfollow_guard_fraction = '25%'\n", "sync.unfollow_guard_fraction: must be a number > 0"),
        ("[sync]\nunfollow_guard_min = -1\n", "sync.unfollow_guard_min: must be an integer >= 0, got -1"),
        # [providers.*]
        (
            "[providers.linkedin]\npage_size = 0\n",
            "providers.linkedin.page_size: must be an integer >= 1, got 0",
        ),
        (
            "[providers.instagram]\npage_size = 1.5\n",
            "providers.instagram.page_size: must be an integer >= 1",
        ),
        (
            "[providers.linkedin]\nmin_request_interval = -1\n",
            "providers.linkedin.min_request_interval: must",
        ),
        (
            "[providers.instagram]\ndaily_request_budget = -1\n",
            "providers.instagram.daily_request_budget: must",
        ),
        # [[sources]]
        (
            SOURCE.replace('"linkedin"', '"tiktok"'),
            'sources[1].provider: unknown provider "tiktok" (expected',
        ),
        (SOURCE.replace('"linkedin"', '"LinkedIn"'), 'sources[1].provider: unknown provider "LinkedIn"'),
        (SOURCE.replace('"linkedin"', "1"), 'sources[1].provider: must be "linkedin" or "instagram", got 1'),
        (SOURCE.replace('provider = "linkedin"\n', ""), "sources[1].provider: missing"),
        (SOURCE.replace('account_id = "acc_1"\n', ""), "sources[1].account_id: missing"),
        (SOURCE.replace('"acc_1"', '""'), "sources[1].account_id: must not be empty"),
        (SOURCE.replace('"acc_1"', '"  "'), "sources[1].account_id: must not be empty"),
        (SOURCE.replace('"acc_1"', "42"), "sources[1].account_id: must be a string, got 42"),
        (SOURCE + 'user_id = ""\n', "sources[1].user_id: must not be empty (omit user_id to list"),
        (SOURCE + "user_id = 7\n", "sources[1].user_id: must be a string, got 7"),
        (SOURCE.replace('name = "acme"\n', ""), "sources[1].name: missing"),
        (SOURCE.replace('"acme"', '""'), 'sources[1].name: "" is not a valid source name'),
        (SOURCE.replace('"acme"', '"acme page"'), 'sources[1].name: "acme page" is not a valid source name'),
        (SOURCE.replace('"acme"', '"-acme"'), 'sources[1].name: "-acme" is not a valid source name'),
        (SOURCE.replace('"acme"', '"acme/page"'), 'sources[1].name: "acme/page" is not a valid source name'),
        (SOURCE.replace('"acme"', '"café"'), 'sources[1].name: "café" is not a valid source name'),
        (SOURCE.replace('"acme"', "3"), "sources[1].name: must be a string, got 3"),
        (
            SOURCE + SOURCE.replace('"acme"', '"other"') + SOURCE.replace("linkedin", "instagram"),
            'sources: duplicate source name "acme" (sources[1] and sources[3])',
        ),
        (
            SOURCE + SOURCE.replace('"acme"', '"b"').replace('"linkedin"', '"tiktok"'),
            "sources[2].provider: unknown",
        ),
    ],
)
def test_bad_configuration_is_one_line_naming_the_key(text: str, expected: str) -> None:
    message = config_error(text)
    assert message.startswith(expected), message
    assert message.endswith("(in given.toml)"), "a file's problem names the file"


# --- [[notify]] -------------------------------------------------------------------------------------

HOOK = '[[notify]]\nurl = "https://hooks.example.com/services/T0/B0"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[notify]]\nname = 'x'\n", "notify[1]: give either url or command, not neither"),
        (HOOK + 'command = ["/bin/true"]\n', "notify[1]: give either url or command, not both"),
        (HOOK + 'events = ["unfollow", "unfolow"]\n', 'notify[1].events: unknown event "unfolow" (expected '),
        (HOOK + "events = []\n", "notify[1].events: must be a non-empty array of events"),
        (
            SOURCE + HOOK + 'sources = ["acme", "acne"]\n',
            'notify[1].sources: no source named "acne" (configured ',
        ),
        (
            HOOK + 'sources = ["acme"]\n',
            'notify[1].sources: no source named "acme" (configured sources: none',
        ),
        (
            '[[notify]]\nurl = "ftp://files.example.com/x"\n',
            "notify[1].url: must be an http:// or https:// URL",
        ),
        ('[[notify]]\nurl = "hooks.example.com/x"\n', "notify[1].url: must be an http:// or https:// URL"),
        ('[[notify]]\ncommand = "/bin/notify --json"\n', "notify[1].command: must be an array of strings"),
        ("[[notify]]\ncommand = []\n", "notify[1].command: must be an array of strings"),
        (HOOK + 'secret_env = "s3cr3t value"\n', "notify[1].secret_env: must name an environment variable"),
        (HOOK + 'timeout = "0s"\n', "notify[1].timeout: must be a duration > 0"),
        (HOOK + 'backoff = "soon"\n', "notify[1].backoff: must be a duration"),
        (HOOK + "retries = 3\n", "notify[1].retries: unknown key"),
        (
            HOOK + 'name = "a"\n' + HOOK + 'name = "a"\n',
            'notify: duplicate hook name "a" (notify[1] and notify[2])',
        ),
        (
            "[notify]\nurl = 'https://x.example'\n",
            "notify: must be an array of tables ([[notify]]), got a table",
        ),
    ],
)
def test_bad_hook_is_one_line_naming_the_key(text: str, expected: str) -> None:
    message = config_error(text)
    assert message.startswith(expected), message
    assert message.endswith("(in given.toml)")
    assert "\n" not in message


def test_hooks_are_read_with_their_defaults_and_names() -> None:
    settings = load_text(
        SOURCE + HOOK + '[[notify]]\nname = "crm"\ncommand = ["/usr/bin/crm", "--json"]\n'
        'events = ["unfollow"]\nsources = ["acme"]\nsecret_env = "CRM_SECRET"\ntimeout = "2s"\n'
        'backoff = "1m"\n'
    )
    first, crm = settings.notify
    assert (first.name, first.command, first.events, first.sources) == (
        "notify-1", None, ("unfollow", "follow", "profile_change", "withheld", "attention"), None,
    )  # fmt: skip
    assert (first.timeout, first.backoff, first.secret_env) == (10.0, 30.0, None)
    assert (crm.name, crm.command, crm.events, crm.sources) == (
        "crm",
        ("/usr/bin/crm", "--json"),
        ("unfollow",),
        ("acme",),
    )
    assert (crm.timeout, crm.backoff, crm.secret_env, crm.url) == (2.0, 60.0, "CRM_SECRET", None)
    assert wants(crm, "unfollow", "acme") and not wants(crm, "follow", "acme")
    assert not wants(crm, "unfollow", "b")
    assert wants(first, "attention", "anything")


def test_a_hook_url_never_shows_its_credentials_or_path() -> None:
    url = "https://alice:pa55word@hooks.example.com:8443/services/T0/B0/t0ken?key=k3y"
    hook = load_text(f'[[notify]]\nurl = "{url}"\n').notify[0]
    assert hook.url == url
    assert hook.target == "https://hooks.example.com:8443/..."
    for text in (repr(hook), str(hook), hook.target):
        for secret in ("alice", "pa55word", "t0ken", "k3y"):
            assert secret not in text
    message = config_error('[[notify]]\nurl = "ftp://alice:pa55word@hooks.example.com/x"\n')
    assert "pa55word" not in message and "alice" not in message


def test_an_unset_secret_env_is_a_config_error_when_delivering(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_text(HOOK + 'name = "slack"\nsecret_env = "FS_TEST_HOOK_SECRET"\n')
    monkeypatch.delenv("FS_TEST_HOOK_SECRET", raising=False)
    with pytest.raises(
        ConfigError,
        match=r"^notify\[1\]\.secret_env: the environment variable "
        r"FS_TEST_HOOK_SECRET is not set \(hook \"slack\" signs its payloads with it\)$",
    ):
        require_secrets(settings.notify)
    monkeypatch.setenv("FS_TEST_HOOK_SECRET", "s3cret")
    require_secrets(settings.notify)
    assert hook_secret(settings.notify[0]) == b"s3cret"
    assert "s3cret" not in repr(settings)


def test_select_hooks() -> None:
    settings = load_text(HOOK + 'name = "a"\n' + HOOK + 'name = "b"\n')
    assert [h.name for h in settings.select_hooks(None)] == ["a", "b"]
    assert [h.name for h in settings.select_hooks("b")] == ["b"]
    with pytest.raises(ConfigError, match=r'^no hook named "c" \(configured hooks: a, b\)$'):
        settings.select_hooks("c")
    with pytest.raises(ConfigError, match=r"^notify: no hooks configured"):
        Settings().select_hooks(None)


def test_toml_syntax_error_names_the_file_and_line() -> None:
    message = config_error("[sync]\nconcurrency = 3\ninterval = \n")
    assert message.startswith("given.toml: invalid TOML: ")
    assert "line 3" in message


def test_toml_duplicate_key_is_a_syntax_error() -> None:
    assert "line 3" in config_error("[sync]\nconcurrency = 3\nconcurrency = 4\n")


def test_file_that_is_not_utf8() -> None:
    Path("given.toml").write_bytes(b'[database]\nurl = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings("given.toml", env={})


def test_valid_source_names() -> None:
    text = "".join(
        SOURCE.replace('"acme"', f'"{name}"') for name in ("acme", "Acme-Page_2", "brand.ig", "7eleven")
    )
    assert [s.name for s in load_text(text).sources] == ["acme", "Acme-Page_2", "brand.ig", "7eleven"]


def test_sources_as_inline_tables() -> None:
    settings = load_text('sources = [{name = "a", provider = "instagram", account_id = "acc"}]\n')
    assert settings.sources == (SourceConfig("a", "instagram", "acc"),)


def test_empty_sources_array_is_no_sources() -> None:
    assert load_text("sources = []\n").sources == ()


# --- page size ---------------------------------------------------------------------------------------


def test_page_size_defaults_to_the_provider_maximum() -> None:
    settings = load_text("[providers.linkedin]\ndaily_request_budget = 5\n")
    assert settings.provider("linkedin").page_size == PROVIDER_MAX_PAGE_SIZE["linkedin"] == 100
    assert settings.provider("instagram").page_size == PROVIDER_MAX_PAGE_SIZE["instagram"] == 200


def test_page_size_above_the_maximum_is_capped_with_a_warning() -> None:
    settings = load_text("[providers.linkedin]\npage_size = 150\n[providers.instagram]\npage_size = 500\n")
    assert settings.provider("linkedin").page_size == 100
    assert settings.provider("instagram").page_size == 200
    assert settings.warnings == (
        "providers.linkedin.page_size: 150 is above the LinkedIn maximum of 100; using 100",
        "providers.instagram.page_size: 500 is above the Instagram maximum of 200; using 200",
    )


def test_page_size_at_or_below_the_maximum_is_used_as_given() -> None:
    settings = load_text("[providers.linkedin]\npage_size = 100\n[providers.instagram]\npage_size = 7\n")
    assert (settings.provider("linkedin").page_size, settings.provider("instagram").page_size) == (100, 7)
    assert settings.warnings == ()


def test_two_sources_listing_the_same_followers_draw_a_warning() -> None:
    settings = load_text(SOURCE + SOURCE.replace('"acme"', '"acme-again"'))
    assert len(settings.sources) == 2
    assert settings.warnings == (
        'sources: "acme-again" lists the same followers as "acme" (same provider, account_id and user_id)',
    )


# --- Settings methods --------------------------------------------------------------------------------


def test_provider_lookup() -> None:
    settings = load_settings(env={})
    assert settings.provider("instagram") is settings.providers["instagram"]
    with pytest.raises(ConfigError, match='unknown provider "tiktok"'):
        settings.provider("tiktok")


def test_select_sources() -> None:
    settings = load_text(SOURCES_EXAMPLE)
    assert settings.select_sources([]) == settings.sources
    assert [s.name for s in settings.select_sources(["brand-ig"])] == ["brand-ig"]
    # Configuration order, each once, whatever order and repeats the command line had.
    assert [s.name for s in settings.select_sources(["brand-ig", "acme-page", "brand-ig"])] == [
        "acme-page",
        "brand-ig",
    ]
    with pytest.raises(ConfigError) as caught:
        settings.select_sources(["acme-page", "nope"])
    assert str(caught.value) == 'no source named "nope" (configured sources: acme-page, brand-ig)'


def test_select_sources_without_any_configured() -> None:
    with pytest.raises(ConfigError, match=r"has no \[\[sources\]\]"):
        load_settings(env={}).select_sources(["acme"])


# --- durations ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (30, 30.0),
        (1.5, 1.5),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("10m", 600.0),
        ("24h", 86400.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        (" 60s ", 60.0),
        (".5s", 0.5),
        ("0s", 0.0),
        ("-5s", -5.0),
        (-3, -3.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value, "k") == seconds


@pytest.mark.parametrize(
    "value",
    [True, False, "30", "", "s", "5 minutes", "1.5.2s", "10M", "ten s", "1h-5m", None, [1], float("nan")],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(
        ConfigError, match=r"^sync\.interval: must be a duration \(a number of seconds or a string"
    ):
        parse_duration(value, "sync.interval")


# --- REFERENCE, the dataclasses and the docs stay in step --------------------------------------------


def _dataclass_default(key: str) -> object:
    settings = Settings()
    table, _, name = key.rpartition(".")
    if table.startswith("providers."):
        return getattr(settings.provider(table.removeprefix("providers.")), name)
    if table == "notify[]":
        return next(f.default for f in dataclasses.fields(HookConfig) if f.name == name)
    return getattr(getattr(settings, table), name)


@pytest.mark.parametrize("entry", [e for e in REFERENCE if e.default is not None], ids=lambda e: e.key)
def test_reference_default_is_the_dataclass_default(entry: ConfigKey) -> None:
    raw = tomllib.loads(f"value = {entry.default}")["value"]
    assert entry.read(raw, entry.key) == _dataclass_default(entry.key)


def test_reference_covers_every_dataclass_field() -> None:
    documented = {e.key for e in REFERENCE}
    sections = {"api": ApiSettings, "database": DatabaseSettings, "sync": SyncSettings}
    expected = {f"{table}.{f.name}" for table, cls in sections.items() for f in dataclasses.fields(cls)}
    expected.discard("api.api_key")  # environment only, by design
    expected |= {
        f"providers.{p}.{f.name}"
        for p in PROVIDER_MAX_PAGE_SIZE
        for f in dataclasses.fields(ProviderSettings)
    }
    expected |= {f"sources[].{f.name}" for f in dataclasses.fields(SourceConfig)}
    # `number` is the table's place in the file, not a key.
    expected |= {f"notify[].{f.name}" for f in dataclasses.fields(HookConfig) if f.name != "number"}
    assert documented == expected


def _heading(table: str) -> str:
    return f"### `[[{table.removesuffix('[]')}]]`" if table.endswith("[]") else f"### `[{table}]`"


def _reference_table(table: str) -> str:
    """The markdown docs/configuration.md must hold for one table, rendered from REFERENCE."""
    rows = [_heading(table), "", "| key | default | meaning |", "| --- | --- | --- |"]
    for entry in REFERENCE:
        if entry.table == table:
            if entry.default is not None:
                default = f"`{entry.default}`"
            else:
                default = "required" if entry.required else "(none)"
            rows.append(f"| `{entry.name}` | {default} | {entry.meaning} |")
    return "\n".join(rows) + "\n"


def test_docs_hold_every_reference_table_verbatim() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    tables = list(dict.fromkeys(entry.table for entry in REFERENCE))
    for table in tables:
        expected = _reference_table(table)
        assert expected in docs, (
            f"docs/configuration.md is out of date; the [{table}] table should read:\n{expected}"
        )
    documented_tables = [line for line in docs.splitlines() if line.startswith("### `[")]
    assert documented_tables == [_heading(t) for t in tables], (
        "the docs document a table REFERENCE does not know"
    )


def test_docs_name_every_environment_variable() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for var in ENVIRONMENT:
        assert f"| `{var.name}` |" in docs
        if var.key is not None:
            assert f"| `{var.name}` | `{var.key}` |" in docs


def test_docs_show_both_examples_verbatim() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"```toml\n{SOURCES_EXAMPLE}```" in docs
    assert f"```toml\n{DEFAULTS_EXAMPLE}```" in docs


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///followersync.db", "followersync.db"),
        ("sqlite:////var/lib/followersync/data.db", "/var/lib/followersync/data.db"),
        ("sqlite+pysqlite:///my data/f%20s.db", "my data/f%20s.db"),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("sqlite:///followersync.db?timeout=5", "followersync.db"),
        ("sqlite:///followersync.db?mode=memory", None),
        ("sqlite://host/followersync.db", "followersync.db"),
        ("sqlite+pysqlcipher:///followersync.db", None),
        ("postgresql+psycopg://user@localhost/followersync", None),
    ],
)
def test_a_sqlite_file_url_is_read_as_sqlalchemy_reads_it(url: str, path: str | None) -> None:
    # `followersync status` opens such a file without SQLAlchemy: the path must be SQLAlchemy's.
    assert sqlite_file(url) == path
    if path is not None:
        assert sa.make_url(url).database == path
        assert DatabaseSettings(url).password is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///file:/var/lib/f%20s.db?mode=ro&uri=true", "/var/lib/f s.db"),
        ("sqlite:///file:followersync.db?uri=true", "followersync.db"),
        ("sqlite:///file::memory:?uri=true", None),
        ("sqlite:///file:x?mode=memory&uri=true", None),
    ],
)
def test_the_file_of_a_sqlite_uri_is_its_path(url: str, path: str | None) -> None:
    assert sqlite_file(url) == path


def test_the_database_password_is_read_from_the_url() -> None:
    assert DatabaseSettings("postgresql+psycopg://user:p%40ss@localhost/f").password == "p@ss"
    assert DatabaseSettings("postgresql+psycopg://user@localhost/f").password is None
