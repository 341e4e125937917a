"""The sync engine over the simulator, on SQLite and PostgreSQL: passes, modes, unfollows, guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from followersync.simulator import Fault, Simulator
from tests.harness import Harness
from tests.sim_support import IG, LI, MakeSim, linkedin_source


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=7, accounts={LI: 250, IG: 450})


@pytest.fixture
def h(db_url: str, sim: Simulator) -> Iterator[Harness]:
    harness = Harness(db_url, sim, [LI, IG])
    yield harness
    harness.close()


def test_first_full_pass_stores_every_follower_as_baseline(h: Harness, sim: Simulator) -> None:
    results = h.sync()
    assert [(r.source, r.status, r.mode) for r in results] == [
        ("acme-page", "succeeded", "full"),
        ("brand-ig", "succeeded", "full"),
    ]
    assert h.active("acme-page") == set(sim.follower_ids(LI.account_id))
    assert h.active("brand-ig") == set(sim.follower_ids(IG.account_id))
    assert {e for _, e in h.events("acme-page")} == {"baseline"}
    assert len(h.events("acme-page")) == 250
    run = h.runs("acme-page")[-1]
    # A first sync's followers are the baseline, not growth: followers_new counts follow events only.
    assert (run.status, run.mode, run.pages, run.items, run.followers_new) == (
        "succeeded",
        "full",
        3,
        250,
        0,
    )
    by_source = {r.source: r for r in results}
    assert (by_source["acme-page"].baseline, by_source["acme-page"].new) == (250, 0)
    assert (by_source["acme-page"].followers, by_source["acme-page"].listed) == (250, 250)
    assert (run.requests, run.retries, run.followers_lost) == (3, 0, 0)
    # A run without error has SQL NULL there, not the JSON text `null`.
    assert (run.error_type, run.error_detail) == (None, None)
    assert h.query("SELECT count(*) AS n FROM sync_runs WHERE error_detail IS NULL")[0].n == 2
    assert run.finished_at is not None
    # Provider maximum page size was asked for.
    assert {r.limit for r in sim.requests_for(LI.account_id)} == {100}
    assert {r.limit for r in sim.requests_for(IG.account_id)} == {200}
    assert h.checkpoint("acme-page") is None


def test_profiles_keep_fields_and_the_raw_item(h: Harness, sim: Simulator) -> None:
    h.sync()
    item = sim.followers(IG.account_id)[0]
    row = h.query("SELECT * FROM instagram_profiles WHERE id = :id", id=item["id"])[0]
    assert (row.username, row.name, row.is_private) == (item["username"], item["name"], item["is_private"])
    view = h.query("SELECT * FROM v_followers WHERE follower_id = :id", id=item["id"])[0]
    assert (view.source, view.provider, view.handle, view.name) == (
        "brand-ig",
        "instagram",
        item["username"],
        item["name"],
    )
    li_item = sim.followers(LI.account_id)[0]
    li_view = h.query("SELECT handle FROM v_followers WHERE follower_id = :id", id=li_item["id"])[0]
    assert li_view.handle == li_item["profile_url"]


def test_unknown_extra_fields_are_kept_in_raw(h: Harness, sim: Simulator) -> None:
    def add_field(page: dict) -> dict:
        for item in page["items"]:
            item["badge"] = {"level": 3}
        return page

    sim.inject(Fault.page_transform(add_field), account_id=IG.account_id, on_page=0)
    h.sync(names=["brand-ig"])
    first = sim.followers(IG.account_id)[0]["id"]
    raw = h.query("SELECT raw FROM instagram_profiles WHERE id = :id", id=first)[0].raw
    import json

    assert (json.loads(raw) if isinstance(raw, str) else raw)["badge"] == {"level": 3}


def test_churn_gives_follow_events_at_once_and_unfollows_on_the_confirming_pass(
    h: Harness, sim: Simulator
) -> None:
    h.sync()
    new = sim.follow(LI.account_id, 3)
    gone = sim.unfollow(LI.account_id, count=2)
    [result] = h.sync("full", names=["acme-page"])
    assert (result.new, result.missing, result.lost, result.unfollows_withheld) == (3, 2, 0, 0)
    assert sorted(f for f, _ in h.events("acme-page", "follow")) == sorted(new)
    assert h.events("acme-page", "unfollow") == []
    run = h.runs("acme-page")[-1]
    assert (run.followers_new, run.followers_missing, run.followers_lost) == (3, 2, 0)
    missing = h.query(
        "SELECT follower_id, missing_since, is_active FROM v_followers WHERE missing_since IS NOT NULL"
    )
    assert sorted(r.follower_id for r in missing) == sorted(gone)
    assert all(r.is_active for r in missing)  # still followers until confirmed
    first_miss = missing[0].missing_since
    assert str(first_miss) == str(run.finished_at)

    h.advance(hours=1)
    [confirming] = h.sync("full", names=["acme-page"])
    assert (confirming.new, confirming.missing, confirming.lost) == (0, 0, 2)
    assert sorted(f for f, _ in h.events("acme-page", "unfollow")) == sorted(gone)
    assert h.active("acme-page") == set(sim.follower_ids(LI.account_id))
    assert h.runs("acme-page")[-1].followers_lost == 2
    rows = h.query(
        "SELECT unfollowed_at, missing_since, is_active FROM v_followers WHERE follower_id = :f", f=gone[0]
    )
    # Dated when they were first missed, not when the miss was confirmed.
    assert (str(rows[0].unfollowed_at), rows[0].missing_since, rows[0].is_active) == (
        str(first_miss),
        None,
        False,
    )
    event_at = h.query(
        "SELECT occurred_at FROM v_follow_events WHERE event = 'unfollow' AND follower_id = :f", f=gone[0]
    )
    assert str(event_at[0].occurred_at) == str(first_miss)


def test_a_follower_who_comes_back_is_active_again_with_a_follow_event(h: Harness, sim: Simulator) -> None:
    h.sync()
    [gone] = sim.unfollow(LI.account_id, count=1)
    h.sync("full", names=["acme-page"])
    h.sync("full", names=["acme-page"])  # the confirmation
    assert gone not in h.active("acme-page")
    sim.refollow(LI.account_id, [gone])
    [result] = h.sync("full", names=["acme-page"])
    assert result.new == 1
    assert gone in h.active("acme-page")
    assert [e for f, e in h.events("acme-page") if f == gone] == ["baseline", "unfollow", "follow"]


def test_a_repeated_full_pass_changes_nothing_but_last_seen(h: Harness) -> None:
    h.sync()
    before = h.query("SELECT follower_id, first_seen_at, unfollowed_at FROM followers ORDER BY 1")
    seen_before = h.query("SELECT max(last_seen_at) AS m FROM followers")[0].m
    events_before = h.events("acme-page") + h.events("brand-ig")
    profiles_before = h.query("SELECT id, updated_at FROM linkedin_profiles ORDER BY id")
    h.sync("full")
    h.sync("full")
    assert h.query("SELECT follower_id, first_seen_at, unfollowed_at FROM followers ORDER BY 1") == before
    assert h.events("acme-page") + h.events("brand-ig") == events_before
    # Unchanged profiles are not rewritten.
    assert h.query("SELECT id, updated_at FROM linkedin_profiles ORDER BY id") == profiles_before
    assert str(h.query("SELECT max(last_seen_at) AS m FROM followers")[0].m) > str(seen_before)


def test_auto_runs_incremental_between_full_passes(h: Harness, sim: Simulator) -> None:
    h.sync()
    new = sim.follow(IG.account_id, 3)
    before = len(sim.requests_for(IG.account_id))
    [result] = h.sync(names=["brand-ig"])
    assert result.mode == "incremental"
    # Page 1 has the 3 new followers; page 2 brings nothing new: 2 requests.
    assert len(sim.requests_for(IG.account_id)) - before == 2
    assert sorted(f for f, _ in h.events("brand-ig", "follow")) == sorted(new)
    h.advance(hours=25)
    [result] = h.sync(names=["brand-ig"])
    assert result.mode == "full"


def test_incremental_never_marks_unfollows(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.unfollow(LI.account_id, count=5)
    [result] = h.sync("incremental", names=["acme-page"])
    assert (result.status, result.lost) == ("succeeded", 0)
    assert h.events("acme-page", "unfollow") == []


def test_truncated_listing_is_withheld_by_the_guard_until_accepted(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.inject(Fault.truncate(), account_id=IG.account_id, on_page=0)
    [result] = h.sync("full", names=["brand-ig"])
    assert (result.status, result.lost, result.unfollows_withheld) == ("succeeded", 0, 250)
    run = h.runs("brand-ig")[-1]
    assert (run.status, run.followers_lost, run.unfollows_withheld) == ("succeeded", 0, 250)
    assert len(h.active("brand-ig")) == 450

    sim.inject(Fault.truncate(), account_id=IG.account_id, on_page=0)
    [result] = h.sync("full", accept_unfollows=True, names=["brand-ig"])
    assert (result.lost, result.unfollows_withheld) == (250, 0)
    assert len(h.active("brand-ig")) == 200


def test_guard_lets_small_losses_through(db_url: str, sim: Simulator) -> None:
    h = Harness(db_url, sim, [LI], unfollow_guard_min=25, unfollow_guard_fraction=0.25)
    try:
        h.sync()
        sim.unfollow(LI.account_id, count=30)  # more than the minimum, under a quarter of 250
        [result] = h.sync("full")
        assert (result.missing, result.lost, result.unfollows_withheld) == (30, 0, 0)
        [result] = h.sync("full")
        assert (result.missing, result.lost, result.unfollows_withheld) == (0, 30, 0)
    finally:
        h.close()


def test_duplicates_across_pages_while_followers_arrive_mid_pass(h: Harness, sim: Simulator) -> None:
    h.sync()
    arrived: list[str] = []

    def churn(record) -> None:  # type: ignore[no-untyped-def]
        if record.account_id == LI.account_id and record.cursor is not None and not arrived:
            arrived.extend(sim.follow(LI.account_id, 5))

    sim.on_request(churn)
    [result] = h.sync("full", names=["acme-page"])
    assert result.status == "succeeded"
    assert result.items > 250  # the shift showed some followers twice
    assert result.lost == 0
    follows = [f for f, e in h.events("acme-page") if e != "baseline"]
    assert len(follows) == len(set(follows))


def test_failed_page_keeps_earlier_pages_and_the_next_run_resumes(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.unfollow(IG.account_id, count=3)
    sim.inject(
        Fault.error("errors/authentication_intent_error", instance="req_42"),
        account_id=IG.account_id,
        on_page=1,
    )
    [failed] = h.sync("full", names=["brand-ig"])
    assert (failed.status, failed.error_type) == ("failed", "errors/authentication_intent_error")
    run = h.runs("brand-ig")[-1]
    assert run.status == "failed" and run.pages == 1
    detail = (
        run.error_detail if isinstance(run.error_detail, dict) else __import__("json").loads(run.error_detail)
    )
    assert detail["instance"] == "req_42" and detail["title"]
    checkpoint = h.checkpoint("brand-ig")
    assert checkpoint is not None and checkpoint.pages == 1 and checkpoint.cursor

    sim.clear_requests()
    [resumed] = h.sync(names=["brand-ig"])
    assert (resumed.status, resumed.mode) == ("succeeded", "full")
    assert sim.requests_for(IG.account_id)[0].cursor == checkpoint.cursor
    # The resumed run belongs to the same pass, so unfollow detection still covers the whole listing.
    runs = h.runs("brand-ig")
    assert runs[-1].pass_id == runs[-2].pass_id
    assert (resumed.missing, resumed.lost) == (3, 0)
    [confirming] = h.sync("full", names=["brand-ig"])
    assert confirming.lost == 3
    assert h.active("brand-ig") == set(sim.follower_ids(IG.account_id))


def test_an_old_checkpoint_restarts_the_pass(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.inject(Fault.error("errors/authentication_intent_error"), account_id=IG.account_id, on_page=1)
    h.sync("full", names=["brand-ig"])
    assert h.checkpoint("brand-ig") is not None
    h.advance(hours=13)
    sim.clear_requests()
    [result] = h.sync("full", names=["brand-ig"])
    assert result.status == "succeeded"
    assert sim.requests_for(IG.account_id)[0].cursor is None


def test_a_rejected_cursor_restarts_the_pass_once(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.inject(Fault.error("errors/authentication_intent_error"), account_id=IG.account_id, on_page=1)
    h.sync("full", names=["brand-ig"])
    sim.clear_requests()
    sim.inject(Fault.error("errors/resource_not_found"), account_id=IG.account_id, times=1)
    [result] = h.sync(names=["brand-ig"])
    assert result.status == "succeeded"
    cursors = [r.cursor for r in sim.requests_for(IG.account_id)]
    assert cursors[0] is not None and cursors[1] is None
    assert h.events("brand-ig", "unfollow") == []


def test_rate_limit_without_retry_after_defers_and_keeps_the_checkpoint(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.rate_limited(), account_id=IG.account_id, on_page=1, times=2)  # and its quick retry
    results = {r.source: r for r in h.sync()}
    assert results["brand-ig"].status == "deferred"
    assert results["acme-page"].status == "succeeded"
    assert h.runs("brand-ig")[-1].status == "deferred"
    assert h.checkpoint("brand-ig").pages == 1  # type: ignore[union-attr]
    h.clock.advance(300)  # the account's cool-down
    [resumed] = h.sync(names=["brand-ig"])
    assert resumed.status == "succeeded"
    assert h.active("brand-ig") == set(sim.follower_ids(IG.account_id))


def test_credential_error_fails_the_source_and_others_go_on(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.error("errors/expired_credentials"), account_id=LI.account_id, times=-1)
    results = {r.source: r for r in h.sync()}
    assert (results["acme-page"].status, results["acme-page"].error_type) == (
        "failed",
        "errors/expired_credentials",
    )
    assert results["brand-ig"].status == "succeeded"
    assert len(sim.requests_for(LI.account_id)) == 1  # a credential error is not retried


def test_a_failed_run_ends_with_an_error_log_line(h: Harness, sim: Simulator) -> None:
    # What log alerting keys on: a source that needs attention must not end at the level of a good run.
    sim.inject(Fault.error("errors/expired_credentials"), account_id=LI.account_id, times=-1)
    with structlog.testing.capture_logs() as logs:
        h.sync()
    ends = {e["source"]: (e["status"], e["log_level"]) for e in logs if e["event"] == "run.end"}
    assert ends == {"acme-page": ("failed", "error"), "brand-ig": ("succeeded", "info")}


def test_bad_page_writes_nothing_and_keeps_the_checkpoint(h: Harness, sim: Simulator) -> None:
    sim.inject(
        Fault.body(b"<html>oops</html>", content_type="text/html"), account_id=IG.account_id, on_page=1
    )
    [result] = h.sync(names=["brand-ig"])
    assert (result.status, result.error_type) == ("failed", "invalid_response")
    assert len(h.active("brand-ig")) == 200
    assert h.checkpoint("brand-ig").pages == 1  # type: ignore[union-attr]
    assert h.runs("brand-ig")[-1].error_detail


def test_repeated_cursor_is_a_cursor_loop(h: Harness, sim: Simulator) -> None:
    sim.inject(Fault.repeat_cursor(), account_id=LI.account_id, times=-1)
    [result] = h.sync(names=["acme-page"])
    assert (result.status, result.error_type) == ("failed", "cursor_loop")


def test_daily_budget_defers_the_account(db_url: str, sim: Simulator) -> None:
    h = Harness(db_url, sim, [IG], budget=2, checkpoint_max_age=48 * 3600.0)
    try:
        [result] = h.sync()
        assert (result.status, result.error_type) == ("deferred", "budget_exhausted")
        assert len(sim.requests_for(IG.account_id)) == 2
        h.advance(days=1)
        [result] = h.sync()
        assert result.status == "succeeded"
    finally:
        h.close()


def test_sources_removed_from_the_configuration_are_disabled(db_url: str, sim: Simulator) -> None:
    h = Harness(db_url, sim, [LI, IG])
    h.sync()
    h.close()
    h2 = Harness(db_url, sim, [LI])
    try:
        rows = {r.name: r.enabled for r in h2.query("SELECT name, enabled FROM sources")}
        assert rows == {"acme-page": True, "brand-ig": False}
        assert len(h2.active("brand-ig")) == 450  # history kept
    finally:
        h2.close()


def test_growth_view_counts_baseline_follows_and_unfollows(h: Harness, sim: Simulator) -> None:
    h.sync()
    sim.follow(LI.account_id, 4)
    sim.unfollow(LI.account_id, count=1)
    h.sync("full", names=["acme-page"])
    missing = h.query("SELECT * FROM v_follower_growth_daily WHERE source = 'acme-page' ORDER BY day")
    assert (sum(r.lost for r in missing), missing[-1].followers) == (0, 254)  # missing still counts
    h.sync("full", names=["acme-page"])
    rows = h.query("SELECT * FROM v_follower_growth_daily WHERE source = 'acme-page' ORDER BY day")
    total_gained = sum(r.gained for r in rows)
    total_lost = sum(r.lost for r in rows)
    assert (total_gained, total_lost) == (4, 1)
    assert rows[-1].followers == 253


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.rate_limited(), "deferred"), (Fault.error("errors/expired_credentials"), "failed")],
)
def test_an_account_that_stops_a_run_is_not_called_for_its_other_sources(
    db_url: str, sim: Simulator, fault: Fault, status: str
) -> None:
    own = linkedin_source(name="own", account_id=LI.account_id)
    other = linkedin_source(name="other-user", account_id=LI.account_id, user_id="u2")
    sim.add_account(LI.account_id, "linkedin", followers=50, user_id="u2")
    h = Harness(db_url, sim, [own, other])
    try:
        sim.inject(fault, account_id=LI.account_id, times=-1)
        results = {r.source: r for r in h.sync()}
        assert [results["own"].status, results["other-user"].status] == [status, status]
        assert "not called" in (results["other-user"].message or "")
        # The provider's limit gets its one quick retry; a credential error none.
        assert len(sim.requests_for(LI.account_id)) == (2 if status == "deferred" else 1)
        assert [r.status for r in h.runs("own")] == [status]
        assert h.runs("other-user") == []
    finally:
        h.close()
