"""A fake postpress API on a real socket, for the demo, the integration tests and the benchmark.

It serves `GET {base_url}/users/followers` the way postpress's reference describes it (docs/api.md):
the `X-API-KEY` header, `account_id` / `user_id` / `cursor` / `limit` query parameters, pages of
`{"object": "UserFollowersList", "items": [...], "cursor": "..." | null}` in each provider's item
variant, and the error envelope `{"title", "detail", "instance", "type", "status"}`.

Why a real server rather than a mocked transport: the client's timeouts, keep-alive, retries and
pacing are only proven against real connections, and a fault such as a dropped connection or a
stalled body only exists on a socket.

What it gives a test::

    with Simulator(api_key="k") as sim:
        sim.add_account("acc_ig_01", "instagram", followers=450)
        sim.inject(Fault.error("errors/provider_error"), account_id="acc_ig_01", on_page=1)
        ...  # run the client against sim.base_url
        assert sim.max_in_flight("acc_ig_01") == 1

- Followers are generated deterministically from `(seed, account_id, user_id, index)`, with
  realistic names (some with accents, other scripts or emoji), ids and URLs. About one follower in
  sixteen is drawn from a pool shared by all listings of the same provider, so the same person can
  follow two sources, as in life.
- Listings are newest first and the cursor is an opaque offset (url-safe base64 of `{"o": offset}`),
  like the real API: a follower added at the head mid-pass shifts the listing, so a client sees some
  followers twice across pages; one removed mid-pass makes it miss one.
- `follow`, `unfollow` and `refollow` churn a listing; `inject` makes chosen requests fail in a chosen
  way (`Fault`), or churns the listing at a chosen page (`Fault.departure`: someone already listed
  leaves mid-pass, so the pass skips a follower who never left); `requests` records every request
  with the number in flight for its account, so tests can prove pacing without timing anything.
- The real service's quirks, beyond its reference, can be switched on (docs/simulator.md): items with
  null, missing or wrong-typed fields or no usable id, short pages (`Fault.null_fields`,
  `Fault.wrong_types`, `Fault.items_without_id`, `Fault.short_page`, `Fault.combined`), listings
  closed early (`close_listing_early`), a cache with `Age` / `X-Cache` (`enable_cache`) and
  per-account request limits (`limit_requests`), timed by the `clock` the simulator is given.
- Page bodies are built from items serialised once and cached per (listing version, offset, limit),
  so repeated passes cost little more than the socket.

`serve` runs it standalone, e.g. for docker-compose; `followersync simulate` (followersync/cli/) parses
its options.
"""

from __future__ import annotations

from followersync.simulator.core import Simulator
from followersync.simulator.cursors import decode_cursor, encode_cursor
from followersync.simulator.errors import (
    DEFAULT_API_KEY,
    DOCUMENTED_ERRORS,
    PROVIDER_MAX_LIMIT,
    SimulatorError,
)
from followersync.simulator.faults import Departure, Fault
from followersync.simulator.records import RequestRecord
from followersync.simulator.standalone import serve

__all__ = [
    "DEFAULT_API_KEY",
    "DOCUMENTED_ERRORS",
    "PROVIDER_MAX_LIMIT",
    "Departure",
    "Fault",
    "RequestRecord",
    "Simulator",
    "SimulatorError",
    "decode_cursor",
    "encode_cursor",
    "serve",
]
