"""Profile history (README, "Profile history"), on SQLite and PostgreSQL: the page that brings another
value of a tracked field writes one `profile_changes` row per changed field, in its transaction; picture
URLs, a first sighting and an unchanged listing write none. Then `report changes` as a user runs it.

The writer tests apply pages by hand (as tests/test_pages.py does); the others sync the simulator
with the real engine and read what the user reads: `v_profile_changes` and the command line
(`report changes` itself: tests/test_report_changes.py).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from followersync import reports
from followersync.api.models import parse_page
from followersync.cli import cli
from followersync.config import SourceConfig
from followersync.domain import TRACKED_FIELDS
from followersync.store import db, pages, passes, runs, sources
from followersync.store.pages.postgresql import _page_params, _page_sql
from tests.docs_support import documented_queries, run
from tests.page_support import NOW, item, page_body
from tests.sim_support import IG, LI, instagram_source
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
