"""Pagination cursors: opaque offsets, url-safe base64 of `{"o": offset}`, like the real API's."""

from __future__ import annotations

import base64
import binascii

import msgspec


def encode_cursor(offset: int) -> str:
    """The opaque cursor for `offset`: url-safe base64 of `{"o": offset}`, unpadded.

    >>> encode_cursor(100)
    'eyJvIjoxMDB9'
    """
    return base64.urlsafe_b64encode(b'{"o":%d}' % offset).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> int | None:
    """The offset in `cursor`, or None if it is not a cursor this simulator made."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    offset = data.get("o") if isinstance(data, dict) else None
    # bool is an int subclass: {"o": true} is not an offset.
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        return None
    return offset
