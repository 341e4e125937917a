"""What a hook receives: the JSON payload and its one-line `text`, built from what a run found.

    {"id": "...", "source": "acme-page", "run_id": 42, "created_at": "2026-12-04T10:00:00+00:00",
     "events": [{"event": "unfollow", "follower_id": "...", "name": "Jane Doe", "handle": "...",
                 "occurred_at": "..."}, ...],
     "text": "acme-page: 1 unfollowed: Jane Doe"}

The README's "Notifications" is the contract. The events carry every value exactly as stored; in
`text`, which chat services render, what followers wrote goes through `followersync.text.chat`, so a
name cannot ping a channel, link elsewhere or format the message. A payload holds at most MAX_EVENTS
events: a run that found more sends several, each with its own id and a text that says which part it
is. Nothing here touches the database or the network.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from followersync import text as chat_text

MAX_EVENTS = 1000
_NAMES_IN_TEXT = 5


def event_record(
    event: str,
    occurred_at: datetime,
    *,
    follower_id: str | None = None,
    name: str | None = None,
    handle: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """One entry of a payload's `events`: who it is about (when it is about a follower) and when."""
    record: dict[str, Any] = {"event": event}
    if follower_id is not None:
        record.update(follower_id=follower_id, name=name, handle=handle)
    record["occurred_at"] = occurred_at.isoformat()
    record.update(more)
    return record


def payload_bodies(
    source: str | None, run_id: int | None, events: Sequence[dict[str, Any]], now: datetime
) -> list[tuple[str, int, bytes]]:
    """The payloads for `events`: (id, number of events, JSON body), MAX_EVENTS events at most each."""
    chunks = [events[i : i + MAX_EVENTS] for i in range(0, len(events), MAX_EVENTS)]
    bodies = []
    for number, chunk in enumerate(chunks, start=1):
        text = summary(source, chunk)
        if len(chunks) > 1:
            text += f" (part {number} of {len(chunks)})"
        payload_id = str(uuid.uuid4())
        body = {
            "id": payload_id,
            "source": source,
            "run_id": run_id,
            "created_at": now.isoformat(),
            "events": list(chunk),
            "text": text,
        }
        bodies.append((payload_id, len(chunk), json.dumps(body, ensure_ascii=False).encode("utf-8")))
    return bodies


def summary(source: str | None, events: Sequence[dict[str, Any]]) -> str:
    """The `text` a chat webhook shows as it is, e.g.
    "acme-page: 3 unfollowed: Jane Doe, ...; 1 new follower: ..."."""
    parts: list[str] = []
    unfollows = [e for e in events if e["event"] == "unfollow"]
    follows = [e for e in events if e["event"] == "follow"]
    changes = [e for e in events if e["event"] == "profile_change"]
    for e in events:
        if e["event"] == "attention":
            parts.append(f"needs attention: {e['message']}")
        elif e["event"] == "withheld":
            why = f" ({e['reason']})" if e.get("reason") else ""
            parts.append(f"{e['count']:,} unfollows withheld{why}; if they really left, run `{e['command']}`")
        elif e["event"] == "test":
            parts.append("test notification from followersync")
    if unfollows:
        parts.append(f"{len(unfollows):,} unfollowed: {_names(unfollows)}")
    if follows:
        parts.append(f"{len(follows):,} new follower{'s' if len(follows) != 1 else ''}: {_names(follows)}")
    if changes:
        shown = [f"{_who(e)} ({e['field']})" for e in changes[:_NAMES_IN_TEXT]]
        more = f" and {len(changes) - _NAMES_IN_TEXT:,} more" if len(changes) > _NAMES_IN_TEXT else ""
        parts.append(
            f"{len(changes):,} profile change{'s' if len(changes) != 1 else ''}: {', '.join(shown)}{more}"
        )
    text = "; ".join(parts)
    return f"{source}: {text}" if source else text


def _who(event: dict[str, Any]) -> str:
    """The follower as `text` names them: their own words, so made inert for chat (name, handle and id
    are all the follower's or the API's)."""
    return chat_text.chat(str(event.get("name") or event.get("handle") or event["follower_id"]))


def _names(events: Sequence[dict[str, Any]]) -> str:
    shown = ", ".join(_who(e) for e in events[:_NAMES_IN_TEXT])
    if len(events) > _NAMES_IN_TEXT:
        shown += f" and {len(events) - _NAMES_IN_TEXT:,} more"
    return shown
