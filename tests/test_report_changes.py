"""Profile history through a real sync and `report changes`, as a user runs it (README, "Profile
history"): each change once, dated by its page in its run, in the report's order, per source, in every
format. The page writer's part is tests/test_profile_history.py."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from followersync.simulator import Simulator
from tests.harness import Harness, run_cli, write_config
from tests.sim_support import IG, LI, MakeSim
from tests.test_cli_reports import ISO_UTC
from tests.test_profile_history import OTHER_IG
from tests.test_reports import utc

CHANGE_FIELDS = ["source", "follower_id", "field", "old_value", "new_value", "changed_at"]
Change = tuple[str, str, str, str | None, str | None, datetime]
"""A row of `report changes`: source, follower_id, field, old_value, new_value, changed_at."""


@contextmanager
def three_days(db_url: str, sim: Simulator) -> Iterator[tuple[Harness, list[Change]]]:
    """Three days of syncs of acme-page, brand-ig and other-ig (two Instagram accounts that share
    some followers), and the changes their followers made, as `report changes` should list them:

    day 0  every source's first full pass: the baseline, no change
    day 1  a LinkedIn follower's new headline; a brand-ig follower's new username and privacy; a
           follower of both Instagram sources renamed; a new picture (no change). acme-page and
           brand-ig sync (other-ig does not)
    day 2  the LinkedIn follower's headline again; every source syncs (other-ig now lists the
           renamed person: nothing new)
    """
    h = Harness(db_url, sim, [LI, IG, OTHER_IG])
    try:
        h.sync("full")
        h.advance(days=1)
        li_one = sim.followers(LI.account_id)[3]
        sim.change_profile(LI.account_id, li_one["id"], headline="Head of Data at Hooli")
        ig_one = sim.followers(IG.account_id)[10]
        private = not ig_one["is_private"]
        sim.change_profile(IG.account_id, ig_one["id"], username="ada.codes", is_private=private)
        shared = min(set(sim.follower_ids(IG.account_id)) & set(sim.follower_ids(OTHER_IG.account_id)))
        old_name = next(f["name"] for f in sim.followers(IG.account_id) if f["id"] == shared)
        sim.change_profile(IG.account_id, shared, name="Renamed Person")
        sim.change_profile(
            LI.account_id, sim.follower_ids(LI.account_id)[0], profile_picture_url="https://x/y"
        )
        h.sync("full", names=[LI.name, IG.name])
        h.advance(days=1)
        sim.change_profile(LI.account_id, li_one["id"], headline="CTO at Hooli")
        h.sync("full")

        def at(follower_id: str, field: str, nth: int = 0) -> datetime:
            rows = h.query(
                "SELECT changed_at FROM v_profile_changes WHERE follower_id = :f AND field = :field"
                " ORDER BY changed_at",
                f=follower_id,
                field=field,
            )
            when = utc(rows[nth].changed_at)
            assert when is not None
            return when

        li, ig = li_one["id"], ig_one["id"]
        new_job, private_text = "Head of Data at Hooli", {True: "true", False: "false"}
        changes: list[Change] = [
            (LI.name, li, "headline", li_one["headline"], new_job, at(li, "headline")),
            (LI.name, li, "headline", new_job, "CTO at Hooli", at(li, "headline", 1)),
            (IG.name, ig, "username", ig_one["username"], "ada.codes", at(ig, "username")),
            (
                IG.name,
                ig,
                "is_private",
                private_text[not private],
                private_text[private],
                at(ig, "is_private"),
            ),
            (IG.name, shared, "name", old_name, "Renamed Person", at(shared, "name")),
            (OTHER_IG.name, shared, "name", old_name, "Renamed Person", at(shared, "name")),
        ]
        yield h, newest_first(changes)
    finally:
        h.close()


def newest_first(changes: list[Change]) -> list[Change]:
    """In the report's order: newest first, then by source, follower and field."""
    by_name = sorted(changes, key=lambda c: (c[0], c[1], c[2]))
    return sorted(by_name, key=lambda c: c[5], reverse=True)


def test_a_sync_records_each_change_once_dated_by_its_page_in_its_run(db_url: str, make_sim: MakeSim) -> None:
    sim = make_sim(seed=5, accounts={LI: 120, IG: 150, OTHER_IG: 150})
    with three_days(db_url, sim) as (h, expected):
        rows = h.query("SELECT * FROM v_profile_changes")
        # A profile's change is recorded once, by a run of the source that listed it first.
        recorded = sorted(c for c in expected if c[0] != OTHER_IG.name)
        runs_by_id = {run.id: run for source in (LI.name, IG.name) for run in h.runs(source)}
        sources_by_id = {source_id: name for name, source_id in h.ids.items()}
        assert (
            sorted(
                (
                    sources_by_id[runs_by_id[r.run_id].source_id],
                    r.follower_id,
                    r.field,
                    r.old_value,
                    r.new_value,
                    utc(r.changed_at),
                )
                for r in rows
            )
            == recorded
        )
        for r in rows:  # dated by the page that brought the new value, in that run
            run = runs_by_id[r.run_id]
            assert r.provider == ("linkedin" if sources_by_id[run.source_id] == LI.name else "instagram")
            started, changed, finished = utc(run.started_at), utc(r.changed_at), utc(run.finished_at)
            assert started is not None and changed is not None and finished is not None
            assert started <= changed <= finished


def report(config: Path, *args: str) -> str:
    done = run_cli(["report", "changes", *args], config=config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def reported(config: Path, *args: str) -> list[Change]:
    listed = json.loads(report(config, *args, "--format", "json"))
    assert all(list(c) == CHANGE_FIELDS for c in listed)
    for c in listed:
        assert ISO_UTC.match(c["changed_at"]), c["changed_at"]
    return [(*list(c.values())[:5], datetime.fromisoformat(c["changed_at"])) for c in listed]


def test_report_changes_lists_each_sources_followers_changes_newest_first(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    sim = make_sim(seed=5, accounts={LI: 120, IG: 150, OTHER_IG: 150})
    with three_days(db_url, sim) as (_, expected):
        config = write_config(tmp_path / "followersync.toml", db_url, sim.base_url, [LI, IG, OTHER_IG])
        assert reported(config) == expected
        assert reported(config, "--source", OTHER_IG.name) == [c for c in expected if c[0] == OTHER_IG.name]

        # --since, with an offset other than UTC: the newest change only; a date: that day's.
        newest = expected[0][5]
        since = (newest - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-5))).isoformat()
        assert reported(config, "--since", since) == expected[:1]
        day = expected[1][5].date().isoformat()
        assert reported(config, "--since", day, "--source", IG.name) == [
            c for c in expected if c[0] == IG.name
        ]
        assert reported(config, "--since", (newest + timedelta(seconds=1)).isoformat()) == []

        header, *rows = list(csv.reader(io.StringIO(report(config, "--format", "csv"))))
        assert header == CHANGE_FIELDS
        assert [(*r[:5], datetime.fromisoformat(r[5])) for r in rows] == expected

        table = report(config, "--source", LI.name).splitlines()
        assert table[0].split() == ["changed", "(UTC)", "source", "follower", "id", "field", "old", "new"]
        assert (
            len(table) == 3
            and "CTO at Hooli" in table[1]
            and table[1].startswith(expected[0][5].strftime("%Y-%m-%d %H:%M:%S"))
        )
        assert report(config, "--since", "2999-01-01") == "no profile changes since 2999-01-01 00:00:00 UTC\n"
