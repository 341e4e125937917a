"""A bad configuration is one line that names the key, its value and what was wanted (and the file)."""

from __future__ import annotations

import pytest

from tests.config_support import (
    SOURCE,
    config_error,
)

pytestmark = pytest.mark.usefixtures("own_working_directory")


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
