"""What the fault tests share: a harness whose API settings a test may tighten, and the checks a fault
ends with, made through the public views and tables.

The listing `LI` (from tests.sim_support) has 250 followers, served in pages of 100: page 0, page 1
and the last page, page 2. A fault "on page 1" therefore finds page 0 committed and leaves page 1 and 2
unwritten.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from followersync.config import SourceConfig
from followersync.simulator import Simulator, encode_cursor
from tests.harness import Harness
from tests.sim_support import LI  # the fault suite's listing

PAGE = 100  # LinkedIn's maximum, which the harness asks for
FOLLOWERS = 250


def make_harness(
    db_url: str,
    sim: Simulator,
    sources: Sequence[SourceConfig] = (LI,),
    *,
    timeout: float | None = None,
    base_url: str | None = None,
    **settings: Any,
) -> Harness:
    """The test harness, with `api.timeout` and `api.base_url` set as a user would set them."""
    api = {"timeout": timeout, "base_url": base_url}
    return Harness(db_url, sim, sources, api={k: v for k, v in api.items() if v is not None}, **settings)


def error_detail(run: sa.Row[Any]) -> dict[str, Any]:
    """A run's `error_detail` as a dict (JSON on PostgreSQL, text on SQLite)."""
    value = run.error_detail
    return value if isinstance(value, dict) else json.loads(value)


def orphan_profiles(h: Harness) -> set[str]:
    """Profiles no source has as a follower: what a half-written page would leave behind."""
    rows = h.query(
        "SELECT id FROM linkedin_profiles UNION ALL SELECT id FROM instagram_profiles"
        " EXCEPT SELECT follower_id FROM followers"
    )
    return {r.id for r in rows}


def assert_stopped_after(h: Harness, sim: Simulator, good_pages: int, source: SourceConfig = LI) -> None:
    """The pages before the fault are committed, nothing of the bad page is, and the checkpoint is on
    the last good page (so the next run asks for the bad page again)."""
    listing = sim.follower_ids(source.account_id, user_id=source.user_id)
    kept = set(listing[: good_pages * PAGE])
    assert h.active(source.name) == kept
    assert orphan_profiles(h) == set()
    assert len(h.events(source.name)) == len(kept)
    checkpoint = h.checkpoint(source.name)
    if good_pages == 0:
        assert checkpoint is None
        return
    assert checkpoint is not None
    assert (checkpoint.pages, checkpoint.cursor) == (good_pages, encode_cursor(good_pages * PAGE))


def assert_in_step(h: Harness, sim: Simulator, source: SourceConfig = LI) -> None:
    """The database holds the listing exactly: every follower once, one baseline event each."""
    listing = sim.follower_ids(source.account_id, user_id=source.user_id)
    assert h.active(source.name) == set(listing)
    rows = h.query("SELECT count(*) AS n FROM v_followers WHERE source = :s", s=source.name)
    assert rows[0].n == len(listing)
    events = h.events(source.name)
    assert sorted(follower for follower, _ in events) == sorted(listing)
    assert {event for _, event in events} == {"baseline"}
    assert h.checkpoint(source.name) is None


def resume_and_check(h: Harness, sim: Simulator, source: SourceConfig = LI) -> None:
    """With the fault gone, the next run continues the same pass from the checkpoint and completes it."""
    checkpoint = h.checkpoint(source.name)
    sim.clear_faults()
    sim.clear_requests()
    [result] = h.sync(names=[source.name])
    assert (result.status, result.mode) == ("succeeded", "full")
    first = sim.requests_for(source.account_id)[0]
    assert first.cursor == (checkpoint.cursor if checkpoint is not None else None)
    runs = h.runs(source.name)
    if checkpoint is not None:
        assert runs[-1].pass_id == runs[-2].pass_id
    assert_in_step(h, sim, source)
