"""Profile history (README, "Profile history"), on SQLite and PostgreSQL: the page that brings another
value of a tracked field writes one `profile_changes` row per changed field, in its transaction; picture
URLs, a first sighting and an unchanged listing write none. Then `report changes` as a user runs it.

The writer tests apply pages by hand (as tests/test_pages.py does); the others sync the simulator
with the real engine and read what the user reads: `v_profile_changes` and the command line.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from followersync import reports
from followersync.api.models import parse_page
from followersync.cli import cli
from followersync.config import SourceConfig
from followersync.domain import TRACKED_FIELDS
from followersync.simulator import Simulator
from followersync.store import db, pages, passes, runs, sources
from followersync.store.pages.postgresql import _page_params, _page_sql
from tests.docs_support import documented_queries, run
from tests.harness import Harness, run_cli, write_config
from tests.page_support import NOW, item, page_body
from tests.sim_support import IG, LI, MakeSim, instagram_source
from tests.test_cli_reports import ISO_UTC
from tests.test_reports import utc

pytestmark = pytest.mark.cli_in_process

LATER = NOW + timedelta(days=1)
OTHER_IG = instagram_source(name="other-ig", account_id="acc_ig_2")  # shares followers with IG
SOURCES = {"linkedin": LI, "instagram": IG}


def li_item(i: int, **fields: object) -> dict[str, object]:
    """LinkedIn follower number `i`, with `fields` replacing or adding to the usual ones."""
    member = f"ACoAA{i:08d}"
    picture = f"https://media.licdn.com/dms/image/v2/{i}/profile-displayphoto-shrink_"
    base: dict[str, object] = {
        "object": "UserFollower",
        "id": member,
        "urn": f"urn:li:fsd_profile:{member}",
        "name": f"Member {i}",
        "headline": f"Engineer at Company {i}",
        "profile_url": f"https://www.linkedin.com/in/member-{i}",
        "profile_picture_url": f"{picture}100_100?t=a{i}",
        "profile_picture_url_large": f"{picture}800_800?t=a{i}",
    }
    return base | fields


def follower(provider: str, i: int, **fields: object) -> dict[str, object]:
    return li_item(i, **fields) if provider == "linkedin" else item(i, **fields)


def start(engine: sa.Engine, source: SourceConfig, now: datetime) -> pages.PassContext:
    """A new run of a full pass of `source` (which is added to the database if need be)."""
    with engine.begin() as conn:
        source_id = sources.reconcile_sources(conn, [LI, IG, OTHER_IG], now)[source.name]
        pass_id = passes.start_pass(conn, source_id, "full", now)
        run_id = runs.start_run(conn, source_id, pass_id, "full", "test", now)
    return pages.PassContext(source_id, source.provider, pass_id, run_id, full=True, baseline=False)


def write(engine: sa.Engine, ctx: pages.PassContext, items: list[dict[str, object]], now: datetime) -> None:
    page = parse_page(page_body(items), ctx.provider)
    with engine.begin() as conn:
        pages.apply_page(conn, ctx, page, now, 1)


def sync(engine: sa.Engine, source: SourceConfig, items: list[dict[str, object]], now: datetime) -> int:
    """One run of `source` whose page lists `items`; returns the run's id."""
    ctx = start(engine, source, now)
    write(engine, ctx, items, now)
    return ctx.run_id


def changes(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every row of v_profile_changes, oldest first, times as aware datetimes."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT provider, follower_id, field, old_value, new_value, changed_at, run_id"
                " FROM v_profile_changes ORDER BY changed_at, follower_id, field"
            )
        )
        return [(*row[:5], utc(row.changed_at), row.run_id) for row in rows]


def profile(engine: sa.Engine, provider: str, follower_id: str) -> sa.Row[Any]:
    with engine.connect() as conn:
        return conn.execute(
            sa.text(f"SELECT * FROM {provider}_profiles WHERE id = :id"), {"id": follower_id}
        ).one()


# --- the write path ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "number", "field", "sent", "old", "new"),
    [
        ("linkedin", 1, "name", "Ada Lovelace 🚀", "Member 1", "Ada Lovelace 🚀"),
        ("linkedin", 1, "headline", "CTO at Initech", "Engineer at Company 1", "CTO at Initech"),
        ("linkedin", 1, "profile_url", "https://www.linkedin.com/in/ada", "https://www.linkedin.com/in/member-1",
         "https://www.linkedin.com/in/ada"),
        ("instagram", 1, "username", "ada.codes", "user_1", "ada.codes"),
        ("instagram", 1, "name", "", "User 1", None),  # an empty name is as unknown as none
        ("instagram", 1, "is_private", True, "false", "true"),
        ("instagram", 2, "is_private", False, "true", "false"),
        ("instagram", 1, "is_verified", True, "false", "true"),
    ],
)  # fmt: skip
def test_a_changed_tracked_field_is_one_change_row_of_the_run_that_saw_it(
    engine: sa.Engine, provider: str, number: int, field: str, sent: object, old: str, new: str
) -> None:
    source = SOURCES[provider]
    everyone = [follower(provider, i) for i in range(1, 4)]
    sync(engine, source, everyone, NOW)
    assert changes(engine) == []  # a first sighting is no change
    changed = follower(provider, number, **{field: sent})
    listing = [changed if f["id"] == changed["id"] else f for f in everyone]
    run_id = sync(engine, source, listing, LATER)
    assert changes(engine) == [(provider, changed["id"], field, old, new, LATER, run_id)]
    assert getattr(profile(engine, provider, str(changed["id"])), field) == (sent if sent != "" else None)
    sync(engine, source, listing, LATER + timedelta(days=1))
    assert len(changes(engine)) == 1  # the same listing again: nothing more


def test_each_changed_field_is_a_row_and_the_rest_of_the_profile_is_no_history(engine: sa.Engine) -> None:
    sync(engine, IG, [item(1), item(2)], NOW)
    renamed = item(
        1,
        username="ada.codes",
        name="Ada",
        is_private=True,
        messaging_id="m-new",  # stored, not tracked
        profile_picture_url="https://cdn.example/new.jpg",
    )
    run_id = sync(engine, IG, [renamed, item(2)], LATER)
    assert changes(engine) == [
        ("instagram", "17841000001", "is_private", "false", "true", LATER, run_id),
        ("instagram", "17841000001", "name", "User 1", "Ada", LATER, run_id),
        ("instagram", "17841000001", "username", "user_1", "ada.codes", LATER, run_id),
    ]


@pytest.mark.parametrize(
    ("source", "pictures"),
    [
        (
            LI,
            {"profile_picture_url": "https://media.licdn.com/x?t=b", "profile_picture_url_large": "y?t=b"},
        ),
        (IG, {"profile_picture_url": "https://cdn.example/new.jpg"}),
        (IG, {"profile_picture_url": None}),  # the picture removed
    ],
)
def test_a_new_picture_url_updates_the_profile_but_is_no_change(
    engine: sa.Engine, source: SourceConfig, pictures: dict[str, object]
) -> None:
    sync(engine, source, [follower(source.provider, 1)], NOW)
    sync(engine, source, [follower(source.provider, 1, **pictures)], LATER)
    assert changes(engine) == []
    stored = profile(engine, source.provider, str(follower(source.provider, 1)["id"]))
    assert {name: getattr(stored, name) for name in pictures} == pictures
    assert utc(stored.updated_at) == LATER


def test_a_pass_over_an_unchanged_listing_writes_no_change(engine: sa.Engine) -> None:
    listing = [li_item(i) for i in range(1, 51)]
    for day in range(3):
        sync(engine, LI, listing, NOW + timedelta(days=day))
    assert changes(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM profile_changes")).scalar_one() == 0


def test_a_newcomer_among_changed_followers_is_no_change(engine: sa.Engine) -> None:
    sync(engine, LI, [li_item(1)], NOW)
    run_id = sync(engine, LI, [li_item(2, name="New here"), li_item(1, name="Renamed")], LATER)
    assert changes(engine) == [("linkedin", "ACoAA00000001", "name", "Member 1", "Renamed", LATER, run_id)]


def test_a_follower_listed_twice_on_a_page_changes_to_their_last_occurrence(engine: sa.Engine) -> None:
    sync(engine, IG, [item(1), item(2)], NOW)
    shifted = [item(1, name="In between"), item(2, name="Two"), item(1, name="Last")]
    run_id = sync(engine, IG, shifted, LATER)
    assert changes(engine) == [
        ("instagram", "17841000001", "name", "User 1", "Last", LATER, run_id),
        ("instagram", "17841000002", "name", "User 2", "Two", LATER, run_id),
    ]
    # Listed changed, then as stored: the last occurrence is no change.
    sync(engine, IG, [item(1, name="Gone again"), item(2, name="Two"), item(1, name="Last")], LATER)
    assert len(changes(engine)) == 2


def test_a_profile_shared_by_two_sources_changes_once(engine: sa.Engine) -> None:
    """A profile is the provider's: the source that first lists the new value records the change; the
    other source's listing of the same value then finds nothing new, even with another picture URL."""
    sync(engine, IG, [item(1), item(2)], NOW)
    sync(engine, OTHER_IG, [item(1), item(3)], NOW)
    run_id = sync(engine, IG, [item(1, name="Ada"), item(2)], LATER)
    sync(engine, OTHER_IG, [item(1, name="Ada", profile_picture_url="https://cdn.example/b.jpg")], LATER)
    assert changes(engine) == [("instagram", "17841000001", "name", "User 1", "Ada", LATER, run_id)]
    # ... and the change is of both sources' followers.
    with engine.connect() as conn:
        listed = reports.profile_changes(conn)
    assert [(c.source, c.follower_id, c.new_value) for c in listed] == [
        ("brand-ig", "17841000001", "Ada"),
        ("other-ig", "17841000001", "Ada"),
    ]


def test_a_change_is_written_with_its_page_or_not_at_all(engine: sa.Engine) -> None:
    sync(engine, IG, [item(1)], NOW)
    ctx = start(engine, IG, LATER)
    page = parse_page(page_body([item(1, name="Ada")]), "instagram")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        pages.apply_page(conn, ctx, page, LATER, 1)
        raise RuntimeError("crash before commit")
    assert changes(engine) == []
    write(engine, ctx, [item(1, name="Ada")], LATER)  # the next run redoes the page: one change
    assert changes(engine) == [("instagram", "17841000001", "name", "User 1", "Ada", LATER, ctx.run_id)]


def _plan(engine: sa.Engine, ctx: pages.PassContext, items: list[dict[str, object]], now: datetime) -> str:
    """What the page's statement does with `items` (EXPLAIN ANALYZE, rolled back)."""
    page = parse_page(page_body(items), ctx.provider)
    params = _page_params(ctx, page, now=now, pages_in_pass=1, requests=None)
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cur:
            cur.execute(f"EXPLAIN (ANALYZE, COSTS off, TIMING off) {_page_sql(ctx.provider, True)}", params)
            plan = "\n".join(str(row[0]) for row in cur)
        conn.rollback()
    return plan


@pytest.mark.postgres
@pytest.mark.parametrize("source", [LI, IG], ids=["linkedin", "instagram"])
def test_on_postgresql_only_a_changed_profile_is_looked_up_and_through_its_primary_key(
    pg_url: str, source: SourceConfig
) -> None:
    """The page stays one statement that reads no table beforehand: the old values of a profile are
    read only when the upsert rewrites it, so a first pass and a pass over an unchanged listing read
    nothing more than before."""
    engine = db.create_engine(pg_url)
    try:
        db.migrate(engine)
        lookup = f"Index Scan using pk_{source.provider}_profiles on {source.provider}_profiles o"
        listing = [follower(source.provider, i) for i in range(1, 21)]
        ctx = start(engine, source, NOW)
        first = _plan(engine, ctx, listing, NOW)
        assert f"{lookup} (never executed)" in first
        write(engine, ctx, listing, NOW)
        assert f"{lookup} (never executed)" in _plan(engine, ctx, listing, LATER)
        renamed = [
            follower(source.provider, i, name="Renamed") if i in (3, 7) else f
            for i, f in enumerate(listing, 1)
        ]
        changed = _plan(engine, ctx, renamed, LATER)
        assert f"{lookup} (actual rows=1 loops=2)" in changed
        assert "Seq Scan on linkedin_profiles" not in first + changed
        assert "Seq Scan on instagram_profiles" not in first + changed
    finally:
        engine.dispose()


# --- through a real sync, and `report changes` --------------------------------------------------------

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


def test_on_sqlite_a_page_holds_the_write_lock_from_its_first_read(sqlite_url: str) -> None:
    """The page reads the stored profiles, then rewrites them: another process's write in between
    would make it record an old value that is no longer the stored one. So another writer waits for
    the page, even while it only reads."""
    engine = db.create_engine(sqlite_url)
    try:
        db.migrate(engine)
        sync(engine, IG, [item(1)], NOW)
        outcomes: list[str] = []

        def another_writer(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith("SELECT") and "FROM instagram_profiles" in statement and not outcomes:
                other = sqlite3.connect(str(sa.make_url(sqlite_url).database), timeout=0)
                try:
                    other.execute("UPDATE instagram_profiles SET name = 'Meanwhile'")
                    other.commit()
                    outcomes.append("wrote")
                except sqlite3.OperationalError as exc:
                    outcomes.append(str(exc))
                finally:
                    other.close()

        sa.event.listen(engine, "before_cursor_execute", another_writer)
        sync(engine, IG, [item(1, name="Ada")], LATER)
        assert outcomes == ["database is locked"]
        assert [c[3:5] for c in changes(engine)] == [("User 1", "Ada")]
    finally:
        engine.dispose()


def test_report_changes_help_names_every_tracked_field_and_gives_examples() -> None:
    shown = CliRunner().invoke(cli, ["report", "changes", "--help"], prog_name="followersync")
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    for provider, fields in TRACKED_FIELDS.items():
        assert all(field in text for field in fields), provider
    assert "followersync report changes --source acme-page --since 2026-11-01" in text


def _readme_query(dialect: str) -> str:
    """The README's "who changed jobs this month" query, as spelled for `dialect`."""
    (query,) = [q for q in documented_queries() if q.title.startswith("Who changed jobs this month")]
    return query.for_dialect(dialect)


def test_the_readmes_who_changed_jobs_this_month_runs_as_written(engine: sa.Engine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    month = now.replace(day=1, hour=0, minute=0, second=0)
    sync(engine, LI, [li_item(1), li_item(2), li_item(3)], month - timedelta(days=20))
    sync(
        engine,
        LI,
        [li_item(1, headline="CTO at Hooli"), li_item(2, headline="Founder"), li_item(3)],
        month - timedelta(days=1),
    )
    sync(
        engine,
        LI,
        [li_item(1, headline="CEO at Hooli", name="Ada"), li_item(2, headline="Founder"), li_item(3)],
        now,
    )
    with engine.connect() as conn:
        rows = run(conn, _readme_query(engine.dialect.name))
    assert [tuple(r)[:5] for r in rows] == [
        (LI.name, "Ada", "https://www.linkedin.com/in/member-1", "CTO at Hooli", "CEO at Hooli")
    ]
    assert utc(rows[0].changed_at) == now
