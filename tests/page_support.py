"""What the page-writer tests share: an Instagram item and page, a migrated database with a pass in
progress, and one page applied in its own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from followersync.api.models import parse_page
from followersync.store import db, pages, passes, runs, sources
from tests.sim_support import instagram_source

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SOURCE = instagram_source(account_id="acc_ig")


def item(i: int, **fields: object) -> dict[str, object]:
    """Instagram follower number `i`, with `fields` replacing or adding to the usual ones."""
    base: dict[str, object] = {
        "object": "UserFollower",
        "id": f"17841{i:06d}",
        "messaging_id": f"m{i}",
        "username": f"user_{i}",
        "name": f"User {i}",
        "profile_picture_url": f"https://cdn.example/{i}.jpg",
        "is_private": i % 2 == 0,
        "is_verified": False,
    }
    return base | fields


def page_body(items: list[dict[str, object]], cursor: str | None = "next") -> bytes:
    return json.dumps({"object": "UserFollowersList", "items": items, "cursor": cursor}).encode()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = db.create_engine(db_url)
    db.migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ctx(engine: sa.Engine) -> pages.PassContext:
    with engine.begin() as conn:
        source_id = sources.reconcile_sources(conn, [SOURCE], NOW)["brand-ig"]
        pass_id = passes.start_pass(conn, source_id, "full", NOW)
        run_id = runs.start_run(conn, source_id, pass_id, "full", "test", NOW)
    return pages.PassContext(source_id, "instagram", pass_id, run_id, full=True, baseline=True)


def apply_body(
    engine: sa.Engine, ctx: pages.PassContext, body: bytes, now: datetime = NOW, page_no: int = 1
) -> pages.PageOutcome:
    with engine.begin() as conn:
        return pages.apply_page(conn, ctx, parse_page(body, "instagram"), now, page_no)
