"""Strings from the API that a database may mangle: every script and emoji is stored intact, a NUL
character (which PostgreSQL text cannot hold) becomes U+FFFD on both databases, and text that looks
like SQL is only ever data."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from followersync.simulator import Fault, Simulator
from tests.faults.support import assert_in_step
from tests.harness import Harness
from tests.sim_support import LI

NAMES = [
    "Zoë Ångström-Đorđević",
    "李伟 (王芳)",
    "محمد علي",  # right to left
    "דוד כהן",
    "Ольга 🚀✨",
    "👩‍💻 Dev 🏳️‍🌈",  # zero-width joiners
    "🇧🇷🇯🇵",  # flags: pairs of regional indicators
    "𝕏 𝓜𝓪𝓻𝓲𝓪 𝟙𝟚𝟛",  # noqa: RUF001 - astral plane, 4 bytes in UTF-8
    "e\u0301 vs \u00e9",  # combining accent next to the precomposed letter: not normalised
    "Zero\u200bWidth\ufeffBOM",
    "tab\there\nnewline",
    'quote " backslash \\ slash /',
    "\U0010fffd last code point",
]


def rename(names: list[str], **more: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def transform(page: dict[str, Any]) -> dict[str, Any]:
        for item, name in zip(page["items"], names, strict=False):
            item["name"] = name
            item.update(more)
        return page

    return transform


def stored(h: Harness, follower_id: str) -> tuple[str, dict[str, Any], str]:
    """The follower's name in v_followers, its raw item as stored, and its headline."""
    [row] = h.query(
        "SELECT v.name, p.raw, p.headline FROM v_followers v"
        " JOIN linkedin_profiles p ON p.id = v.follower_id WHERE v.follower_id = :f",
        f=follower_id,
    )
    raw = row.raw if isinstance(row.raw, dict) else json.loads(row.raw)
    return row.name, raw, row.headline


def test_unicode_and_emoji_names_are_stored_intact(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.page_transform(rename(NAMES, headline="Ingénieure 👩‍🔬 at 株式会社")), on_page=0)
    [result] = h.sync()
    assert result.status == "succeeded"
    ids = sim.follower_ids(LI.account_id)
    for follower_id, name in zip(ids, NAMES, strict=False):
        stored_name, raw, headline = stored(h, follower_id)
        assert stored_name == name
        assert raw["name"] == name
        assert headline == raw["headline"] == "Ingénieure 👩‍🔬 at 株式会社"
    assert_in_step(h, sim)


def test_nul_characters_are_stored_as_replacement_characters(h: Harness, sim: Simulator) -> None:
    names = ["Jordan\x00Walke", "\x00", "trailing\x00\x00"]
    sim.inject(Fault.page_transform(rename(names, headline="Engineer\x00at Acme")), on_page=0)
    [result] = h.sync()
    assert result.status == "succeeded"
    ids = sim.follower_ids(LI.account_id)
    for follower_id, name in zip(ids, names, strict=False):
        stored_name, raw, headline = stored(h, follower_id)
        safe = name.replace("\x00", "\ufffd")
        assert stored_name == raw["name"] == safe
        assert headline == raw["headline"] == "Engineer\ufffdat Acme"
    assert_in_step(h, sim)


def test_a_nul_in_an_id_links_the_profile_and_the_follower_alike(h: Harness, sim: Simulator) -> None:
    def nul_id(page: dict[str, Any]) -> dict[str, Any]:
        page["items"][0]["id"] = "ACoA\x00zzz"
        return page

    sim.inject(Fault.page_transform(nul_id), on_page=0)
    [result] = h.sync()
    assert result.status == "succeeded"
    [row] = h.query("SELECT follower_id, name FROM v_followers WHERE follower_id LIKE 'ACoA%zzz'")
    assert row.follower_id == "ACoA\ufffdzzz"
    assert row.name == sim.followers(LI.account_id)[0]["name"]


def test_the_text_backslash_u0000_is_not_taken_for_a_nul(h: Harness, sim: Simulator) -> None:
    names = {
        "C:\\u0000\\dir": "C:\\u0000\\dir",  # a backslash, then the letters u0000: no NUL at all
        "C:\\\x00": "C:\\\ufffd",  # a backslash, then a NUL
    }
    sim.inject(Fault.page_transform(rename(list(names))), on_page=0)
    [result] = h.sync()
    assert result.status == "succeeded"
    for follower_id, safe in zip(sim.follower_ids(LI.account_id), names.values(), strict=False):
        stored_name, raw, _ = stored(h, follower_id)
        assert stored_name == raw["name"] == safe


def test_text_that_looks_like_sql_is_stored_verbatim(h: Harness, sim: Simulator) -> None:
    names = [
        "Robert'); DROP TABLE followers; --",
        "x' OR '1'='1",
        "%_ LIKE wildcards \\%",
        "$1 :name ? %(name)s {0}",
    ]
    sim.inject(Fault.page_transform(rename(names, headline="'; DELETE FROM sources; --")), on_page=0)
    [result] = h.sync()
    assert result.status == "succeeded"
    ids = sim.follower_ids(LI.account_id)
    for follower_id, name in zip(ids, names, strict=False):
        stored_name, raw, headline = stored(h, follower_id)
        assert stored_name == raw["name"] == name
        assert headline == "'; DELETE FROM sources; --"
    assert [r.name for r in h.query("SELECT name FROM sources")] == [LI.name]
    assert_in_step(h, sim)
