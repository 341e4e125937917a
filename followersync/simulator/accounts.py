"""The accounts and their followers: the listings a simulator serves, and the controls that add
accounts and make people follow, unfollow, come back and edit their profiles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from followersync.simulator.errors import PROVIDER_MAX_LIMIT
from followersync.simulator.listing import Listing
from followersync.simulator.state import SimulatorState


class AccountControls:
    """The `Simulator`'s controls of its accounts and their followers (a base class of `Simulator`)."""

    _state: SimulatorState

    def add_account(
        self, account_id: str, provider: str, *, followers: int = 0, user_id: str | None = None
    ) -> None:
        """Create the listing of (account_id, user_id) with `followers` generated followers.

        `user_id` None is the linked account's own followers; another `user_id` is a user or company
        whose followers the account can list (same provider as the account).
        """
        if provider not in PROVIDER_MAX_LIMIT:
            raise ValueError(f"provider must be one of {sorted(PROVIDER_MAX_LIMIT)}, not {provider!r}")
        listing = Listing(self._state.seed, provider, account_id, user_id)
        # Generated outside the lock: a large listing takes a moment and requests go on meanwhile.
        listing.push_head(listing.new_entries(followers))
        with self._state.lock:
            known = self._state.providers.get(account_id)
            if known is not None and known != provider:
                raise ValueError(f"account {account_id!r} is a {known} account, not {provider}")
            if (account_id, user_id) in self._state.listings:
                raise ValueError(f"listing ({account_id!r}, user_id={user_id!r}) already exists")
            self._state.providers[account_id] = provider
            self._state.listings[account_id, user_id] = listing

    def follow(self, account_id: str, count: int = 1, *, user_id: str | None = None) -> list[str]:
        """`count` new followers at the head of the listing; returns their ids, newest first."""
        with self._state.lock:
            listing = self._state.listing(account_id, user_id)
            entries = listing.new_entries(count)
            listing.push_head(entries)
        return [e.id for e in reversed(entries)]

    def unfollow(
        self,
        account_id: str,
        ids: Sequence[str] | None = None,
        *,
        count: int = 0,
        user_id: str | None = None,
    ) -> list[str]:
        """Remove the followers `ids` (KeyError for one not in the listing), or else `count` random
        ones (chosen with the simulator's seeded generator); returns the removed ids."""
        with self._state.lock:
            listing = self._state.listing(account_id, user_id)
            if ids is not None:
                missing = [i for i in ids if i not in listing.by_id]
                if missing:
                    raise KeyError(f"not following {account_id!r}: {missing[:5]}")
                chosen = list(dict.fromkeys(ids))
            else:
                chosen = [
                    e.id for e in self._state.rng.sample(listing.entries, min(count, len(listing.entries)))
                ]
            listing.remove(chosen)
        return chosen

    def refollow(self, account_id: str, ids: Sequence[str], *, user_id: str | None = None) -> None:
        """Bring back followers who unfollowed, at the head (the last id becomes the newest)."""
        with self._state.lock:
            listing = self._state.listing(account_id, user_id)
            missing = [i for i in ids if i not in listing.gone]
            if missing:
                raise KeyError(f"never unfollowed {account_id!r}: {missing[:5]}")
            listing.push_head([listing.gone[i] for i in ids])

    def change_profile(
        self, account_id: str, follower_id: str, *, user_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """The follower `follower_id` of the listing (account_id, user_id) edits their profile: `fields`
        replace or add to their item's (never `id` or `object`), with `None` as JSON null. Returns
        the item as now served.

        A person is one profile wherever they are listed: every listing of the provider that holds
        them (as a follower now, or as one who left and may come back) serves the new item.
        """
        fixed = sorted({"id", "object"} & set(fields))
        if fixed:
            raise ValueError(f"a profile change cannot change {fixed}")
        with self._state.lock:
            listing = self._state.listing(account_id, user_id)
            if follower_id not in listing.by_id:
                raise KeyError(f"not following {account_id!r}: {follower_id!r}")
            item = msgspec.json.decode(listing.by_id[follower_id].body) | fields
            body = msgspec.json.encode(item)
            for other in self._state.listings.values():
                if other.provider != listing.provider:
                    continue
                entry = other.by_id.get(follower_id) or other.gone.get(follower_id)
                if entry is not None:
                    entry.body = body
                    other.changed()  # its pages are served anew
        return dict(item)

    def follower_ids(self, account_id: str, *, user_id: str | None = None) -> list[str]:
        """The ids of the current listing, in listing order (newest first)."""
        with self._state.lock:
            return [e.id for e in self._state.listing(account_id, user_id).entries]

    def followers(self, account_id: str, *, user_id: str | None = None) -> list[dict[str, Any]]:
        """The items of the current listing (fresh dicts, exactly as served), newest first."""
        with self._state.lock:
            bodies = [e.body for e in self._state.listing(account_id, user_id).entries]
        return [msgspec.json.decode(b) for b in bodies]

    def accounts(self) -> dict[str, str]:
        """account_id -> provider, for every account added."""
        with self._state.lock:
            return dict(self._state.providers)

    def listings(self) -> list[tuple[str, str | None]]:
        """Every (account_id, user_id) served."""
        with self._state.lock:
            return list(self._state.listings)
