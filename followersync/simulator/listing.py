"""Listings: the followers of one (account_id, user_id), newest first, and their serialised pages."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from followersync.simulator.cursors import encode_cursor
from followersync.simulator.people import make_item


class Entry:
    """One follower of a listing: their id, their place in the order they were made, their item as sent."""

    __slots__ = ("body", "id", "index")

    def __init__(self, id: str, index: int, body: bytes) -> None:
        self.id = id
        self.index = index
        self.body = body


_MAX_CACHED_PAGES = 4096  # per listing; a pass over a huge listing must not double its memory


class Listing:
    """The followers of one (account_id, user_id), newest first, with its page cache."""

    def __init__(self, seed: int, provider: str, account_id: str, user_id: str | None) -> None:
        self.seed = seed
        self.provider = provider
        self.account_id = account_id
        self.user_id = user_id
        self.entries: list[Entry] = []  # listing order: newest first
        self.by_id: dict[str, Entry] = {}
        self.gone: dict[str, Entry] = {}  # unfollowed, kept so `refollow` can bring them back
        self.handles: set[str] = set()  # Instagram usernames ever made here (they stay taken)
        self.next_index = 0
        self.version = 0
        self.pages: dict[tuple[int, int], bytes] = {}
        self.repeat_armed: str | None = None  # cursor to repeat once (Fault.repeat_cursor)
        self.closes_after: int | None = None  # Simulator.close_listing_early: passes end after this many

    def new_entries(self, count: int) -> list[Entry]:
        """`count` new followers (not yet listed), oldest first."""
        made: list[Entry] = []
        batch: set[str] = set()
        for _ in range(count):
            index = self.next_index
            self.next_index += 1
            attempt = 0
            while True:
                item = make_item(self.provider, self.seed, self.account_id, self.user_id, index, attempt)
                follower_id = item["id"]
                # Ids are hashes (Instagram's have only ~11 digits): a clash is rare but possible in a
                # big listing, and a listing must never hold one id twice. Usernames are unique on
                # Instagram too (within a listing here; across listings only the shared pool's match).
                handle = item.get("username")
                if (
                    follower_id not in self.by_id
                    and follower_id not in self.gone
                    and follower_id not in batch
                    and handle not in self.handles
                ):
                    break
                attempt += 1
            batch.add(follower_id)
            if handle is not None:
                self.handles.add(handle)
            made.append(Entry(follower_id, index, msgspec.json.encode(item)))
        return made

    def push_head(self, entries: list[Entry]) -> None:
        """Put `entries` (oldest first) at the head, so the last one is the newest follower."""
        fresh = [e for e in entries if e.id not in self.by_id]
        for e in fresh:
            self.by_id[e.id] = e
            self.gone.pop(e.id, None)
        self.entries[:0] = reversed(fresh)
        self.changed()

    def remove(self, ids: Sequence[str]) -> None:
        drop = set(ids)
        for follower_id in drop:
            self.gone[follower_id] = self.by_id.pop(follower_id)
        self.entries = [e for e in self.entries if e.id not in drop]
        self.changed()

    def changed(self) -> None:
        self.version += 1
        self.pages.clear()

    @property
    def end(self) -> int:
        """Where a pass ends: the listing's length, or the early close when there is one."""
        if self.closes_after is None:
            return len(self.entries)
        return min(self.closes_after, len(self.entries))

    def window(self, offset: int, limit: int) -> list[Entry]:
        """The entries a page at `offset` of `limit` serves (none past the end)."""
        return self.entries[offset : max(offset, min(offset + limit, self.end))]

    def cursor_after(self, offset: int) -> str | None:
        """The cursor of a page whose last item is just before `offset` (None: the pass is over)."""
        return encode_cursor(offset) if offset < self.end else None

    def page(self, offset: int, limit: int) -> tuple[bytes, str | None]:
        """The serialised page at `offset` and its next cursor (None on the last page)."""
        key = (offset, limit)
        chunk = self.window(offset, limit)
        cursor = self.cursor_after(offset + len(chunk))
        body = self.pages.get(key)
        if body is None:
            body = page_body([e.body for e in chunk], cursor)
            if len(self.pages) >= _MAX_CACHED_PAGES:
                self.pages.clear()
            self.pages[key] = body
        return body, cursor


def page_body(items: list[bytes], cursor: str | None) -> bytes:
    """A page's JSON from items already serialised, without decoding them again."""
    tail = b'],"cursor":null}' if cursor is None else b'],"cursor":"%s"}' % cursor.encode("ascii")
    return b'{"object":"UserFollowersList","items":[' + b",".join(items) + tail
