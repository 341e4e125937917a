"""What the configuration tests share: the documented examples, and a file written in the test's own
working directory (so that no followersync.toml lying around, and no real environment, leaks in).

A plugin of tests/conftest.py; the configuration tests use `own_working_directory` for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from followersync.config import (
    ConfigError,
    Settings,
    load_settings,
)

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


@pytest.fixture
def own_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
