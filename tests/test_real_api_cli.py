"""`followersync sync` against the API as it really behaves (docs/simulator.md's quirks): items with null,
missing or wrong-typed fields, items without a usable id, the other provider's items, an upstream cache
that ignores `no-cache`, the provider's limits and `x-ratelimit-*` windows. The real command (in this
process, through click: `cli_in_process`) against the simulator on a real socket, on both databases.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from followersync.config import SourceConfig
from followersync.simulator import Fault, RequestRecord, Simulator
from followersync.simulator.quirks import LimitAnswer
from tests.harness import API_KEY, query, run_cli, write_config
from tests.sim_support import IG, LI, MakeSim

pytestmark = pytest.mark.cli_in_process

# --- helpers ----------------------------------------------------------------------------------------


def configure(
    path: Path,
    db_url: str,
    sim: Simulator,
    sources: Sequence[SourceConfig],
    *,
    max_retry_wait: str = "2s",
    max_attempts: int = 2,
    linkedin: str = "",
) -> Path:
    """`write_config`'s file with its `[api]` retry settings changed and lines added to
    `[providers.linkedin]` (TOML allows each table once, so they cannot go in `extra`)."""
    config = write_config(path, db_url, sim.base_url, sources)
    text = config.read_text()
    edits = [
        ('max_retry_wait = "2s"\n', f'max_retry_wait = "{max_retry_wait}"\n'),
        ("max_attempts = 2\n", f"max_attempts = {max_attempts}\n"),
        ("[providers.linkedin]\n", "[providers.linkedin]\n" + linkedin),
    ]
    for old, new in edits:
        assert text.count(old) == 1, f"write_config no longer writes {old!r}"
        text = text.replace(old, new)
    config.write_text(text)
    return config


def json_of(args: Sequence[str], config: Path) -> Any:
    done = run_cli(args, config=config)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def runs(db_url: str) -> list[sa.Row[Any]]:
    return query(db_url, "SELECT * FROM sync_runs ORDER BY id")


def detail_of(run: sa.Row[Any]) -> dict[str, Any]:
    detail = run.error_detail
    parsed = json.loads(detail) if isinstance(detail, str) else detail
    assert isinstance(parsed, dict), detail
    return parsed


def attention_of(config: Path, source: str) -> str | None:
    [state] = [s for s in json_of(["status", "--format", "json"], config) if s["source"] == source]
    attention = state["attention"]
    assert attention is None or isinstance(attention, str)
    return attention


def statuses(records: Sequence[RequestRecord]) -> list[int]:
    return [r.status for r in records]


# --- 1. items as the API really sends them ---------------------------------------------------------


def test_items_with_null_missing_or_wrong_typed_fields_are_stored_with_null_columns_and_counted(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """Every LinkedIn item sends `profile_picture_url: null` (a member without a photo), every third
    has no `name` at all, and every Instagram item says `is_private: "yes"`. Before, one such item
    failed its page on every run; now every follower is stored, the unusable fields as NULL, and each
    run counts its coerced items."""
    sim = make_sim(seed=3, accounts={LI: 250, IG: 120})
    sim.inject(
        Fault.combined(
            Fault.null_fields("profile_picture_url"), Fault.null_fields("name", every=3, missing=True)
        ),
        account_id=LI.account_id,
        times=-1,
    )
    sim.inject(Fault.wrong_types(is_private="yes"), account_id=IG.account_id, times=-1)
    config = configure(tmp_path / "f.toml", db_url, sim, [LI, IG])

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    active = query(db_url, "SELECT source, count(*) AS n FROM v_followers WHERE is_active GROUP BY source")
    assert {r.source: r.n for r in active} == {LI.name: 250, IG.name: 120}
    [li] = query(
        db_url,
        "SELECT count(*) AS n, count(profile_picture_url) AS pictures, count(name) AS names,"
        " count(headline) AS headlines FROM linkedin_profiles",
    )
    # Pages of 100: positions 0, 3, ..., 99 lose their name, 34 + 34 + 17 of 100 + 100 + 50.
    assert (li.n, li.pictures, li.names, li.headlines) == (250, 0, 250 - 85, 250)
    assert (
        query(db_url, "SELECT count(*) FROM v_followers WHERE source = 'acme-page' AND name IS NULL")[0][0]
        == 85
    )
    [ig] = query(db_url, "SELECT count(*) AS n, count(is_private) AS private FROM instagram_profiles")
    assert (ig.n, ig.private) == (120, 0)

    coerced = {r.source_id: r.items_coerced for r in runs(db_url)}
    ids = {r.name: r.id for r in query(db_url, "SELECT id, name FROM sources")}
    assert coerced == {ids[LI.name]: 250, ids[IG.name]: 120}
    listed = json_of(["runs", "--format", "json"], config)
    assert {(r["source"], r["status"], r["items_coerced"]) for r in listed} == {
        (LI.name, "succeeded", 250),
        (IG.name, "succeeded", 120),
    }
    header, *rows = done.stdout.splitlines()
    assert "coerced" in header.split()
    [li_line] = [line for line in rows if line.startswith(LI.name)]
    assert "250 items had a field missing or unusable (stored as NULL)" in li_line
    assert all(r.cache_control == "no-cache" for r in sim.requests)


def test_items_without_a_usable_id_are_quarantined_and_the_pass_marks_no_one_missing(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """After a baseline, one follower unfollows and every page brings items without a usable id (no
    `id` on page 0, a number on page 1). The full pass stores everyone else, keeps the bad items raw in
    `rejected_items` and goes on; but a follower behind a rejected item may be anyone, so it marks no
    one missing: the one who left stays active and the run withholds. Once the items have ids again,
    the next full pass does mark the leaver missing: the set-up would have marked them."""
    sim = make_sim(seed=5, accounts={LI: 200})
    config = configure(tmp_path / "f.toml", db_url, sim, [LI])
    assert run_cli(["sync"], config=config).returncode == 0
    [leaver] = sim.unfollow(LI.account_id, [sim.follower_ids(LI.account_id)[10]])
    listing = sim.followers(LI.account_id)  # 199 now, in pages of 100 and 99
    sim.inject(Fault.items_without_id(every=40), account_id=LI.account_id, on_page=0, times=-1)
    sim.inject(Fault.items_without_id(every=40, how="number"), account_id=LI.account_id, on_page=1, times=-1)

    done = run_cli(["sync", "--mode", "full"], config=config)

    assert done.returncode == 0, done.stderr
    [_, run] = runs(db_url)
    assert (run.status, run.mode, run.followers_missing, run.followers_lost) == ("succeeded", "full", 0, 0)
    assert run.unfollows_withheld == 7  # the leaver and the six followers whose items had no id
    assert run.withheld_reason == "the pass is no evidence of absence: 3 items without a usable id"
    rejected = query(
        db_url, "SELECT source_id, run_id, page, position, reason, raw FROM rejected_items ORDER BY id"
    )
    assert [(r.run_id, r.page, r.position, r.reason) for r in rejected] == [
        *((run.id, 1, p, "no id") for p in (0, 40, 80)),
        *((run.id, 2, p, "id is a JSON int, not a string") for p in (0, 40, 80)),
    ]
    assert {r.source_id for r in rejected} == {run.source_id}
    expected_raw = [{k: v for k, v in listing[i].items() if k != "id"} for i in (0, 40, 80)] + [
        listing[i] | {"id": i} for i in (100, 140, 180)
    ]
    assert [json.loads(r.raw) for r in rejected] == expected_raw
    [gone] = query(db_url, f"SELECT is_active, missing_since FROM v_followers WHERE follower_id = '{leaver}'")
    assert gone.is_active and gone.missing_since is None
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE missing_since IS NOT NULL")[0][0] == 0
    assert "6 items without a usable id kept in rejected_items" in done.stdout
    attention = attention_of(config, LI.name)
    assert attention is not None
    assert "7 unfollows withheld" in attention and "no evidence of absence" in attention

    sim.clear_faults()
    again = run_cli(["sync", "--mode", "full"], config=config)
    assert again.returncode == 0, again.stderr
    [*_, control] = runs(db_url)
    assert (control.followers_missing, control.unfollows_withheld) == (1, 0)
    missing = query(db_url, "SELECT follower_id FROM v_followers WHERE missing_since IS NOT NULL")
    assert [r.follower_id for r in missing] == [leaver]


def test_a_page_of_the_other_providers_items_fails_the_run_and_writes_nothing_of_it(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """A LinkedIn source whose second page comes back with Instagram items: not sloppy data but the
    wrong listing (or the wrong provider in the configuration). The run fails with
    `invalid_response` and asks about the provider; the first page stays, nothing of the second is
    written, and the checkpoint stays on the first page."""
    sim = make_sim(seed=7, accounts={LI: 250})
    sim.inject(Fault.wrong_variant(), account_id=LI.account_id, on_page=1)
    config = configure(tmp_path / "f.toml", db_url, sim, [LI])

    done = run_cli(["sync"], config=config)

    assert done.returncode == 1
    [run] = runs(db_url)
    assert (run.status, run.error_type, run.pages) == ("failed", "invalid_response", 1)
    detail = detail_of(run)["detail"]
    assert "look like instagram's" in detail and "is the provider of this source right?" in detail
    stored = {r.follower_id for r in query(db_url, "SELECT follower_id FROM v_followers")}
    assert stored == set(sim.follower_ids(LI.account_id)[:100])
    assert query(db_url, "SELECT count(*) FROM instagram_profiles")[0][0] == 0
    assert query(db_url, "SELECT count(*) FROM rejected_items")[0][0] == 0
    assert query(db_url, "SELECT pages FROM sync_checkpoints")[0][0] == 1


# --- 2. the cache --------------------------------------------------------------------------------


def fill_cache(sim: Simulator, account_id: str, limit: int) -> int:
    """Walk the listing as another client of the same upstream would, without `no-cache`: every page
    is cached as it is now. Returns the number of pages."""
    url = f"{sim.base_url}/users/followers"
    cursor: str | None = None
    pages = 0
    with httpx.Client(headers={"X-API-KEY": API_KEY}) as http:
        while True:
            params: dict[str, str | int] = {"account_id": account_id, "limit": limit}
            if cursor is not None:
                params["cursor"] = cursor
            answer = http.get(url, params=params)
            assert answer.status_code == 200 and answer.headers["x-cache"] == "MISS"
            pages += 1
            cursor = answer.json()["cursor"]
            if cursor is None:
                return pages


def test_a_full_pass_served_from_a_cache_older_than_itself_marks_no_one_missing(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """Every request asks for a fresh answer (`Cache-Control: no-cache`); this upstream cache ignores
    it. Its pages were cached while the listing ended 10 followers early, and the listing has been
    whole again since. A full pass served those pages does not list the 10, who never left.

    The construction: a baseline of all 50; another client walks the listing while it is closed after
    40, filling the cache with 4 short pages; the listing is whole again. The simulator's clock is
    moved 600 s on, so each cached page comes back with `Age: 600`, older than the pass. The pass
    is withheld ("cached"), the 10 stay active and not missing. Control: the same cached pages with
    `Age: 0` (the clock moved back, so the pages look cached after the pass began) make a pass that
    is evidence, and it marks exactly those 10 missing: the Age rule alone saved them."""
    sim = make_sim(seed=11, accounts={LI: 50})
    config = configure(tmp_path / "f.toml", db_url, sim, [LI], linkedin="page_size = 10\n")
    assert run_cli(["sync"], config=config).returncode == 0
    hidden = set(sim.follower_ids(LI.account_id)[40:])

    sim.enable_cache(LI.account_id, ttl=3600, honour_no_cache=False)
    sim.close_listing_early(LI.account_id, after=40)
    assert fill_cache(sim, LI.account_id, limit=10) == 4
    sim.close_listing_early(LI.account_id, after=None)
    sim.set_clock(lambda: time.monotonic() + 600)
    sim.clear_requests()

    done = run_cli(["sync", "--mode", "full"], config=config)

    assert done.returncode == 0, done.stderr
    served = sim.requests_for(LI.account_id)
    assert [(r.cache, r.cache_control) for r in served] == [("HIT", "no-cache")] * 4
    [_, run] = runs(db_url)
    assert (run.status, run.mode, run.pages, run.followers_missing, run.followers_lost) == (
        "succeeded",
        "full",
        4,
        0,
        0,
    )
    assert run.unfollows_withheld == 10
    assert run.withheld_reason.startswith("the pass is no evidence of absence: ")
    assert "cached" in run.withheld_reason
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE missing_since IS NOT NULL")[0][0] == 0
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 50

    sim.set_clock(lambda: time.monotonic() - 60)  # the same cached pages, now with Age: 0
    control = run_cli(["sync", "--mode", "full"], config=config)
    assert control.returncode == 0, control.stderr
    assert {r.cache for r in sim.requests_for(LI.account_id)} == {"HIT"}
    [*_, trusted] = runs(db_url)
    assert (trusted.followers_missing, trusted.unfollows_withheld, trusted.withheld_reason) == (10, 0, None)
    missing = query(db_url, "SELECT follower_id FROM v_followers WHERE missing_since IS NOT NULL")
    assert {r.follower_id for r in missing} == hidden
    assert all(r.cache_control == "no-cache" for r in sim.requests)


# --- 3. the provider's limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error_type", "status"),
    [("provider_error", "errors/provider_error", 500), ("rate_limited", "errors/too_many_requests", 429)],
)
def test_the_providers_limit_gets_one_quick_retry_then_the_account_rests(
    tmp_path: Path, db_url: str, make_sim: MakeSim, answer: LimitAnswer, error_type: str, status: int
) -> None:
    """One request per hour: the first page comes, the second is refused (a 500 provider_error, or a
    429 without Retry-After). One quick retry 1-3 s later, refused too; then the run ends deferred
    (not failed), the checkpoint kept, and the account rests. A `sync` right away does not call it."""
    sim = make_sim(seed=13, accounts={LI: 150})
    sim.limit_requests(LI.account_id, max_requests=1, window=3600, answer=answer)
    # Room for the quick retry's wait of up to 3 s.
    config = configure(tmp_path / "f.toml", db_url, sim, [LI], max_retry_wait="5s")

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    sent = sim.requests_for(LI.account_id)
    assert statuses(sent) == [200, status, status]
    first_try, retry = sent[1:]
    assert first_try.cursor == retry.cursor is not None
    assert 0.9 <= retry.started - first_try.started <= 3.5
    [run] = runs(db_url)
    assert (run.status, run.error_type, run.pages, run.requests, run.retries) == (
        "deferred",
        error_type,
        1,
        3,
        1,
    )
    assert detail_of(run)["cooldown"] == 300
    [checkpoint] = query(db_url, "SELECT cursor, pages FROM sync_checkpoints")
    assert (checkpoint.cursor, checkpoint.pages) == (first_try.cursor, 1)
    [rest] = query(db_url, "SELECT account_id, until, seconds, error_type FROM account_cooldowns")
    assert (rest.account_id, rest.seconds, rest.error_type) == (LI.account_id, 300, error_type)
    until = f"{datetime.fromisoformat(detail_of(run)['resume_at']):%Y-%m-%d %H:%M} UTC"
    attention = attention_of(config, LI.name)
    assert attention is not None and attention.startswith(f"resting after {error_type}")
    assert f"resumes from its checkpoint after {until}" in attention

    again = run_cli(["sync"], config=config)

    assert again.returncode == 0, again.stderr
    assert len(sim.requests_for(LI.account_id)) == 3
    [line] = [line for line in again.stdout.splitlines() if line.startswith(LI.name)]
    assert line.split()[1] == "deferred"
    assert f"not called: account {LI.account_id} rests until {until}" in line
    assert len(runs(db_url)) == 1


def test_the_cooldown_doubles_up_to_its_maximum_and_a_good_run_ends_it(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """Every answer is a provider_error. With `cooldown = "250ms"` and `max_cooldown = "1s"`, each sync
    after the rest is over is deferred again and rests twice as long: 0.25, 0.5, 1, 1 s. A run that then
    succeeds ends the rest. (`max_retry_wait = "0s"` leaves no room for the quick retry, to keep the
    test short; the rest does not depend on it.)"""
    sim = make_sim(seed=17, accounts={LI: 30})
    sim.inject(Fault.error("errors/provider_error"), account_id=LI.account_id, times=-1)
    config = configure(
        tmp_path / "f.toml",
        db_url,
        sim,
        [LI],
        max_retry_wait="0s",
        linkedin='cooldown = "250ms"\nmax_cooldown = "1s"\n',
    )

    for _ in range(4):
        done = run_cli(["sync"], config=config)
        assert done.returncode == 0, done.stderr
        resume_at = datetime.fromisoformat(detail_of(runs(db_url)[-1])["resume_at"])
        time.sleep(max(0.0, (resume_at - datetime.now(UTC)).total_seconds()) + 0.1)  # the rest is over
    listed = sorted(json_of(["runs", "--format", "json"], config), key=lambda r: int(r["id"]))
    assert [(r["status"], r["error_type"]) for r in listed] == [("deferred", "errors/provider_error")] * 4
    assert [r["error_detail"]["cooldown"] for r in listed] == [0.25, 0.5, 1, 1]
    assert len(sim.requests_for(LI.account_id)) == 4  # each run one request: no retry, no rest skipped

    sim.clear_faults()
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    assert runs(db_url)[-1].status == "succeeded"
    assert query(db_url, "SELECT count(*) FROM account_cooldowns")[0][0] == 0
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 30


def test_other_5xx_keep_several_retries_and_rest_no_one(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """A 503 service_unavailable is not the provider's limit: it is retried as often as
    `api.max_attempts` allows (here three times, each after its Retry-After), and the run succeeds
    without a rest."""
    sim = make_sim(seed=19, accounts={LI: 30})
    sim.inject(
        Fault.error("errors/service_unavailable", retry_after="0.05"), account_id=LI.account_id, times=3
    )
    config = configure(tmp_path / "f.toml", db_url, sim, [LI], max_retry_wait="5s", max_attempts=6)

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    sent = sim.requests_for(LI.account_id)
    assert statuses(sent) == [503, 503, 503, 200]
    assert {r.cursor for r in sent} == {None}
    [run] = runs(db_url)
    assert (run.status, run.requests, run.retries) == ("succeeded", 4, 3)
    assert query(db_url, "SELECT count(*) FROM account_cooldowns")[0][0] == 0
    assert attention_of(config, LI.name) is None


# --- 4. x-ratelimit windows ------------------------------------------------------------------------


def test_a_short_ratelimit_window_is_waited_out_before_the_request_over_it(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """Three requests per 2 s window, announced in `x-ratelimit-*` headers, and a listing of 6 pages.
    After the third answer says none is left, the client waits for the window to reset (2 s is within
    `api.max_retry_wait`) instead of sending a request the API would refuse: no answer is a refusal,
    and the pass completes."""
    sim = make_sim(seed=23, accounts={LI: 55})
    sim.limit_requests(LI.account_id, max_requests=3, window=2, headers=True)
    config = configure(tmp_path / "f.toml", db_url, sim, [LI], linkedin="page_size = 10\n")

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    sent = sim.requests_for(LI.account_id)
    assert statuses(sent) == [200] * 6
    assert sent[3].started - sent[0].started >= 2.0  # the fourth only once the first window is over
    [run] = runs(db_url)
    assert (run.status, run.pages, run.requests, run.retries) == ("succeeded", 6, 6, 0)
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 55
    waits = [
        line for line in done.stderr.splitlines() if line.startswith("{") and '"api.window_wait"' in line
    ]
    assert len(waits) == 1


def test_a_ratelimit_window_longer_than_max_retry_wait_defers_the_run_without_a_refusal(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    """Three requests per hour, announced in `x-ratelimit-*` headers; a request may wait at most 1 s.
    After the third answer says none is left, the run ends deferred with `ratelimit_window`: three
    pages written, the checkpoint on the third, and no request sent that the API would refuse."""
    sim = make_sim(seed=29, accounts={LI: 55})
    sim.limit_requests(LI.account_id, max_requests=3, window=3600, headers=True)
    config = configure(
        tmp_path / "f.toml", db_url, sim, [LI], max_retry_wait="1s", linkedin="page_size = 10\n"
    )

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    assert statuses(sim.requests_for(LI.account_id)) == [200, 200, 200]
    [run] = runs(db_url)
    assert (run.status, run.error_type, run.pages, run.requests) == ("deferred", "ratelimit_window", 3, 3)
    assert 3500 <= detail_of(run)["retry_after"] <= 3600
    assert query(db_url, "SELECT pages FROM sync_checkpoints")[0][0] == 3
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 30
