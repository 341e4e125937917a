"""What the simulator's tests share: its key, the fields of the reference's item variants and error
envelope, and a plain HTTP client's view of a listing (a page, a whole pass, the ids in it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

KEY = "test-key-7f3a"
LINKEDIN_FIELDS = {
    "object",
    "id",
    "urn",
    "name",
    "headline",
    "profile_url",
    "profile_picture_url",
    "profile_picture_url_large",
}
INSTAGRAM_REQUIRED = {"object", "id", "messaging_id", "username", "name", "is_private", "is_verified"}
JSON = dict[str, Any]
ENVELOPE_FIELDS = ["title", "detail", "instance", "type", "status"]


def get(client: httpx.Client, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
    query = {k: v for k, v in params.items() if v is not None}
    return client.get("/users/followers", params=query, headers=headers)


def fetch_pass(
    client: httpx.Client, account_id: str, *, limit: int | None = None, **extra: Any
) -> list[JSON]:
    """Every page of one pass, from no cursor to cursor null."""
    pages: list[JSON] = []
    cursor = None
    while True:
        response = get(client, account_id=account_id, limit=limit, cursor=cursor, **extra)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        cursor = pages[-1]["cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "runaway pagination"


def wait_until(condition: Callable[[], bool], within: float = 4.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def ids_of(pages: list[JSON]) -> list[str]:
    return [item["id"] for page in pages for item in page["items"]]


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> JSON:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body: JSON = response.json()
    assert body["type"] == error_type and body["status"] == status
    assert list(body) == [f for f in ENVELOPE_FIELDS if f in body] and "title" in body
    return body
