"""What every page writer shares: the pass a page belongs to, what writing it did, and which
profile columns come from the API's item."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa

from followersync.domain import TRACKED_FIELDS
from followersync.page import Follower, InstagramFollower, LinkedInFollower
from followersync.store.schema import PROFILE_TABLES

# A NUL escape in the JSON text: `\u0000` whose backslash is not itself escaped (`\\u0000` is a
# backslash followed by the letters u0000, which is no NUL and stays as it is). PostgreSQL text and
# jsonb cannot hold NUL, so both writers store U+FFFD in its place.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def without_nul_escapes(json_text: bytes) -> bytes:
    """`json_text` with every NUL escape replaced by the escape of U+FFFD (callers first test for
    `\\u0000` in the text: NULs are rare, and JSON always escapes them)."""
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", json_text)


@dataclass(frozen=True)
class PassContext:
    """What the writer needs to know about the pass a page belongs to."""

    source_id: int
    provider: str
    pass_id: int
    run_id: int
    full: bool  # a full pass marks what it saw (for unfollow detection) and keeps a checkpoint
    baseline: bool  # no complete full pass yet: followers found now are the baseline, not growth


class RequestCounts(Protocol):
    """A run's HTTP requests so far, retries included (`api.client.RequestStats` is one)."""

    @property
    def requests(self) -> int: ...

    @property
    def retries(self) -> int: ...


@dataclass(frozen=True)
class PageOutcome:
    items: int  # items on the page (duplicates included)
    new: int  # `follow` events: followers new since the baseline, or back after an unfollow
    baseline: int  # `baseline` events: followers found before the source's first complete pass


# Columns every profile table has that are not fields of the API's item.
_BOOKKEEPING = ("id", "raw", "first_seen_at", "updated_at")
_STRUCTS: dict[str, type[Follower]] = {"linkedin": LinkedInFollower, "instagram": InstagramFollower}


def item_columns(provider: str) -> list[sa.Column[Any]]:
    """The profile columns filled from the item, which are named after its fields (checked here, so
    a column added to the schema without a field of that name fails loudly instead of staying empty)."""
    table = PROFILE_TABLES[provider]
    columns = [c for c in table.columns if c.name not in _BOOKKEEPING]
    fields = set(_STRUCTS[provider].__struct_fields__)
    unknown = [c.name for c in columns if c.name not in fields]
    if unknown:
        raise RuntimeError(f"{table.name} columns without an item field: {unknown}")
    return columns


@cache
def tracked_fields(provider: str) -> tuple[tuple[str, bool], ...]:
    """The profile history's fields (README, "Profile history"), each with whether it is a boolean
    column: `profile_changes` holds every value as text, a boolean as `true` / `false`."""
    booleans = {c.name for c in item_columns(provider) if isinstance(c.type, sa.Boolean)}
    return tuple((name, name in booleans) for name in TRACKED_FIELDS[provider])
