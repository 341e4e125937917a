"""What followersync prints of text it did not write: the one place that makes it safe to show.

Followers choose their own names, headlines and usernames, and the API its error types and titles;
followersync prints them in tables, `status`, console log lines, CSV files and chat messages. A
terminal takes an ESC or a C1 control for the start of a command (colours, a new window title, a
cleared screen), a bidirectional override reorders what follows it, a newline or a tab splits a table
row, a spreadsheet runs a cell that starts with `=`, and a chat service turns `<!channel>` into a
ping. So every such value passes through one of these functions on its way out
(docs/semantics.md#what-followersync-prints):

- `printable`: for a terminal. Controls and bidirectional controls are shown escaped, as the text
  `\\x1b` or `\\u202e` (visible, so a strange name looks strange rather than vanishing); a run of
  line breaks and tabs is one space, so a value stays on its line.
- `cell`: `printable`, then cut to a display width with `…`, for a table column.
- `json_text`: JSON for a terminal that is still exact data: the characters `printable` escapes are
  written as JSON's own `\\uXXXX` escapes, which decode to the very same string.
- `csv_value`: a CSV cell a spreadsheet shows as text (OWASP's rule: a leading `'`).
- `chat`: `printable`, then what chat webhooks interpret (`<`, `>`, `&`, mentions, links, code).
- `one_line`: whitespace runs as one space, cut to a length: a message (an API error's title, a
  driver's error) made fit for a one-line log field or `sync_runs.error_detail`.

Nothing here touches what is stored: the database, JSON and the notification's structured fields keep
every value exactly as the API sent it.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls (tab and line breaks among them), DEL, C1 controls (U+009B is an 8-bit CSI, U+009D an
# OSC), the line and paragraph separators, the bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), and lone surrogates (which no terminal encoding can write at all).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# What breaks a line or a column: each run of them is shown as one space.
_BREAKS = re.compile("[\t\n\v\f\r\x85\u2028\u2029]+")
ELLIPSIS = "…"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` as a terminal may show it: nothing in it is a command, and it stays on one line.

    Line breaks and tabs become one space; every other control (ESC, BEL, NUL, DEL, the C1 block),
    bidirectional override or isolate, and lone surrogate is written as its escape (`\\x1b`,
    `\\u202e`). The characters after an ESC are ordinary text once the ESC is shown as four letters,
    so no escape sequence (CSI, OSC, ...) needs parsing. Everything else, every script and emoji and
    the zero-width joiner inside one, is left as it is.
    """
    if _UNSAFE.search(text) is None:  # almost every name: no copy, no work
        return text
    return _UNSAFE.sub(_escape, _BREAKS.sub(" ", text))


def cell(text: str, width: int | None = None) -> str:
    """`printable(text)`, cut with `…` to at most `width` display columns (None: never cut).

    Display columns as a terminal counts them (rich's measure): 김 or 📈 takes two, a combining accent
    none. A cut never splits a wide character: the cell may end one column short instead.
    """
    text = printable(text)
    if width is None:
        return text
    from rich.cells import cell_len, get_character_cell_size  # only tables pay for loading it

    if cell_len(text) <= width:
        return text
    kept, used = [], 0
    for char in text:
        size = get_character_cell_size(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


# What json.dumps writes raw with ensure_ascii=False: the same set but the C0 controls, which it
# escapes itself inside strings (and the newlines of its indentation are no string's).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(value: Any) -> str:
    """`value` as indented JSON for stdout: exact data, yet no raw control or bidi character.

    json.dumps already escapes C0 controls; DEL, the C1 controls, separators, bidi controls and lone
    surrogates that it writes raw (with ensure_ascii=False, which keeps names readable) can only be
    inside strings, where `\\uXXXX` means the same character, so the parsed value is unchanged.
    """
    return _UNSAFE_IN_JSON.sub(_json_escape, json.dumps(value, indent=2, ensure_ascii=False))


# OWASP's "CSV injection": a spreadsheet takes a cell starting with one of these for a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any, *, raw: bool = False) -> Any:
    """A CSV cell a spreadsheet shows as text: a string that starts like a formula gets a leading `'`
    (numbers are left alone: -3 is a number, not a formula). `raw`: the value untouched."""
    if not raw and isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# Chat markup followers must not be able to write: Slack's `<!channel>`, `<@U123>` and `<url|text>`
# (escaped as Slack requires, `&` first); `@here`/`@channel`/`@everyone`/`@name` mentions (Slack,
# Discord, Mattermost, Teams), markdown links `[text](url)` and code spans. A zero-width space keeps a
# mention or a link from forming while the text still reads the same; a backtick becomes U+02CB, which
# looks like one but opens no code span.
_CHAT = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "@\u200b", "`": "\u02cb"}
_CHAT_MARKUP = re.compile(r"[&<>@`]|\](?=\()")


def chat(text: str) -> str:
    """`text` for a chat message: `printable`, then no markup, mention or link of its own."""
    return _CHAT_MARKUP.sub(lambda m: _CHAT.get(m.group(), "]\u200b"), printable(text))


def one_line(text: str, limit: int = 500) -> str:
    """`text` with runs of whitespace collapsed to one space, cut to `limit` characters (`…` last)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
