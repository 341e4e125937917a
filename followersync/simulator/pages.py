"""The page a request gets: the window of its listing at its cursor, and what a page-shaping fault
(faults.py) makes of it: a follower leaving mid-pass, a repeated or missing cursor, the other
provider's items, a function of the test's, or the real service's item quirks (quirks.py)."""

from __future__ import annotations

import msgspec

from followersync.simulator.cursors import encode_cursor
from followersync.simulator.errors import envelope
from followersync.simulator.faults import Departure, Fault
from followersync.simulator.listing import Listing, page_body
from followersync.simulator.people import make_item, other_provider
from followersync.simulator.quirks import shape_page
from followersync.simulator.records import RequestRecord
from followersync.simulator.state import SimulatorState
from followersync.simulator.wire import Response


def page_response(
    state: SimulatorState, record: RequestRecord, offset: int | None, limit: int, fault: Fault | None
) -> Response:
    """A page of the request's listing, or the 400/404 its parameters get."""
    assert record.account_id is not None  # _refusal answered a request without one
    if record.cursor is not None and offset is None:
        return envelope(
            "errors/invalid_parameters", record.account_id, detail="cursor is not a valid pagination cursor."
        )
    with state.lock:
        listing = state.listings.get((record.account_id, record.user_id))
        if listing is None:
            what = (
                f"account {record.account_id}"
                if record.account_id not in state.providers
                else f"user {record.user_id} for account {record.account_id}"
            )
            return envelope("errors/resource_not_found", record.account_id, detail=f"No {what}.")
        if limit < 1:
            return envelope(
                "errors/invalid_parameters", record.account_id, detail="limit must be an integer >= 1."
            )
        assert offset is not None
        if fault is not None and fault.kind == "departure":
            _depart(state, listing, offset)
        body, next_cursor = listing.page(offset, limit)
        armed = listing.repeat_armed
        if armed is not None and record.cursor == armed:
            # The second half of Fault.repeat_cursor on a first page: send the cursor again.
            listing.repeat_armed = None
            body = _reshape(listing, offset, limit, armed)
        elif fault is not None and fault.transform is None and fault.kind != "departure":
            body = _apply_page_fault(fault, listing, record, offset, limit, next_cursor)
    if fault is not None and fault.transform is not None:
        # Outside the lock: the test's function may call back into the simulator.
        body = msgspec.json.encode(fault.transform(msgspec.json.decode(body)))
    return Response(200, body)


def _depart(state: SimulatorState, listing: Listing, offset: int) -> None:
    """A random follower from before `offset` (already listed by this pass) leaves."""
    if not 0 < offset <= len(listing.entries):
        return  # nothing listed yet (page 0), or past the end: nobody can shift
    left = listing.entries[state.rng.randrange(offset)].id
    skipped = listing.entries[offset].id if offset < len(listing.entries) else None
    listing.remove([left])
    state.departures.append(Departure(listing.account_id, listing.user_id, left, skipped))


def _reshape(listing: Listing, offset: int, limit: int, cursor: str | None) -> bytes:
    return page_body([e.body for e in listing.window(offset, limit)], cursor)


def _apply_page_fault(
    fault: Fault,
    listing: Listing,
    record: RequestRecord,
    offset: int,
    limit: int,
    next_cursor: str | None,
) -> bytes:
    """The page reshaped by `fault` (all but page_transform, which runs outside the lock)."""
    if fault.kind == "truncate":
        return _reshape(listing, offset, limit, None)
    if fault.kind == "repeat_cursor":
        if record.cursor is not None:
            return _reshape(listing, offset, limit, record.cursor)
        repeated = next_cursor or encode_cursor(0)
        listing.repeat_armed = repeated
        return _reshape(listing, offset, limit, repeated)
    if fault.kind == "wrong_variant":
        other = other_provider(listing.provider)
        items = [
            msgspec.json.encode(make_item(other, listing.seed, listing.account_id, listing.user_id, e.index))
            for e in listing.window(offset, limit)
        ]
        return page_body(items, next_cursor)
    if fault.is_page_shaping:  # the quirks: null_fields, wrong_types, items_without_id, short_page
        return shape_page(fault, listing, offset, limit)
    raise AssertionError(f"not a page fault: {fault.kind}")
