"""The configuration loader: file resolution, env overrides, reading the values.

Every test passes `env=` explicitly and runs in its own working directory (tests/config_support.py).
A bad key or value: test_config_validation.py; [[notify]] tables: test_config_hooks.py; the key
reference and docs/configuration.md: test_config_docs.py.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import sqlalchemy as sa

from followersync.config import (
    PROVIDER_MAX_PAGE_SIZE,
    ApiSettings,
    ConfigError,
    DatabaseSettings,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
    load_settings,
    parse_duration,
    sqlite_file,
)
from tests.config_support import (
    DEFAULTS_EXAMPLE,
    SOURCE,
    SOURCES_EXAMPLE,
    config_error,
    load_text,
    write,
)

# --- defaults and the documented examples ----------------------------------------------------------

pytestmark = pytest.mark.usefixtures("own_working_directory")


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
