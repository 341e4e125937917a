"""What the API client's tests share: the key (shaped like a real one, so the client must never show
it), the two sources and a client built as the command builds it, on any clock."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from followersync.api import (
    Client,
    Pacer,
    RequestStats,
)
from followersync.config import PROVIDER_MAX_PAGE_SIZE, ApiSettings, ProviderSettings, SourceConfig
from tests.sim_support import instagram_source, linkedin_source

KEY = "pp_live_TESTKEY_7f3a9c21"  # shaped like a real key: the client must never show it
LI = linkedin_source(account_id="acc_li")
IG = instagram_source(account_id="acc_ig")


def make_client(
    base_url: str,
    clock: Any,
    *,
    interval: float = 0.0,
    max_attempts: int = 6,
    max_retry_wait: float = 300.0,
    timeout: float = 5.0,
    key: str = KEY,
    pacer: Pacer | None = None,
    before_request: Callable[[SourceConfig], None] | None = None,
) -> Client:
    api = ApiSettings(
        base_url=base_url, timeout=timeout, max_attempts=max_attempts, max_retry_wait=max_retry_wait
    )
    providers = {
        p: ProviderSettings(page_size=size, min_request_interval=interval)
        for p, size in PROVIDER_MAX_PAGE_SIZE.items()
    }
    return Client(
        api, providers, key, clock=clock, pacer=pacer, rng=random.Random(7), before_request=before_request
    )


def fetch(client: Client, source: SourceConfig = LI, cursor: str | None = None) -> RequestStats:
    stats = RequestStats()
    client.fetch_page(source, cursor=cursor, limit=PROVIDER_MAX_PAGE_SIZE[source.provider], stats=stats)
    return stats
