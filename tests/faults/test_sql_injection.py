"""Text made of SQL reaches the database only as bound parameters: what the API serves (a follower's id,
username and name) and what the configuration holds (account and user ids, which are opaque to us) is
stored and read back verbatim, never run. What users type as a source name or a date is refused by
validation, as a configured source *name* of SQL is (test_bad_config.py); that proves the validation,
not the binding. The API's other strange strings are in test_strange_strings.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from followersync.simulator import Fault, Simulator
from tests.harness import query, run_cli, write_config
from tests.sim_support import IG, MakeSim, instagram_source

# Followers whose every text field is SQL aimed at our tables, with both kinds of quotes, comment
# markers and the placeholders of each driver: the id is a key of the tables, the username the handle.
SQL_FOLLOWERS = [
    {
        "id": "1'); DROP TABLE followers; --",
        "username": "x' OR '1'='1",
        "name": "Robert'); DROP TABLE sources; --",
    },
    {
        "id": '2"; DELETE FROM follow_events; --',
        "username": "admin'--",
        "name": "O'Brien\"; UPDATE followers SET unfollowed_at = NULL; /*",
    },
    {
        "id": "3' UNION SELECT name FROM sources --",
        "username": "%(name)s ? :name $1",
        "name": "'; TRUNCATE sync_runs; SELECT '",
    },
]
DROP = "x'; DROP TABLE sources; --"
# account_id and user_id are opaque ids of the API: any text is allowed, so it must travel as data.
SQLISH = instagram_source(
    name="sqlish", account_id="acc_'); DELETE FROM sync_runs; --", user_id="u' OR '1'='1"
)


def test_sql_in_the_followers_the_api_serves_is_stored_and_reported_verbatim(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    sim = make_sim(accounts={IG: 20})
    served_as = dict(zip(sim.follower_ids(IG.account_id), SQL_FOLLOWERS, strict=False))

    def sql_fields(page: dict[str, Any]) -> dict[str, Any]:
        for item in page["items"]:
            item.update(served_as.get(item["id"], {}))
        return page

    sim.inject(Fault.page_transform(sql_fields), account_id=IG.account_id, times=-1)
    extra = "[sync]\nunfollow_confirmations = 1\n"  # the next full pass that misses them unfollows them
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [IG], extra=extra)

    first = run_cli(["sync"], config=config)
    assert first.returncode == 0, first.stderr
    expected = {(f["id"], f["name"], f["username"]) for f in SQL_FOLLOWERS}
    stored = query(db_url, "SELECT follower_id, name, handle FROM v_followers WHERE is_active")
    assert len(stored) == 20
    assert expected <= {tuple(row) for row in stored}

    # They leave: the pass that misses them marks them unfollowed by their ids, and the report of
    # unfollows reads them back.
    sim.unfollow(IG.account_id, list(served_as))
    second = run_cli(["sync", "--mode", "full"], config=config)
    assert second.returncode == 0, second.stderr
    report = run_cli(["report", "unfollows", "--format", "json"], config=config)
    assert report.returncode == 0, report.stderr
    assert {(u["follower_id"], u["name"], u["handle"]) for u in json.loads(report.stdout)} == expected

    # Every table is there, with every row.
    assert [tuple(r) for r in query(db_url, "SELECT name, account_id FROM sources")] == [
        (IG.name, IG.account_id)
    ]
    assert query(db_url, "SELECT count(*) FROM followers")[0][0] == 20
    assert query(db_url, "SELECT count(*) FROM v_followers WHERE is_active")[0][0] == 17
    events = query(db_url, "SELECT event, count(*) FROM follow_events GROUP BY event ORDER BY event")
    assert [tuple(r) for r in events] == [("baseline", 20), ("unfollow", 3)]
    assert [r.status for r in query(db_url, "SELECT status FROM sync_runs")] == ["succeeded", "succeeded"]


def synced_sqlish(tmp_path: Path, db_url: str, sim: Simulator) -> Path:
    """A configuration of `SQLISH`, synced once. The linked account has followers of its own too (5),
    which SQLISH, narrowed to a user, must not list."""
    sim.add_account(SQLISH.account_id, "instagram", followers=5)
    sim.add_account(SQLISH.account_id, "instagram", followers=40, user_id=SQLISH.user_id)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [SQLISH])
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    return config


def test_sql_in_configured_account_and_user_ids_is_only_ever_data(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    sim = make_sim()
    synced_sqlish(tmp_path, db_url, sim)

    [source] = query(db_url, "SELECT name, account_id, user_id FROM sources")
    assert tuple(source) == (SQLISH.name, SQLISH.account_id, SQLISH.user_id)
    assert {(r.account_id, r.user_id) for r in sim.requests} == {(SQLISH.account_id, SQLISH.user_id)}
    assert query(db_url, "SELECT count(*) FROM v_followers")[0][0] == 40
    assert [r.status for r in query(db_url, "SELECT status FROM sync_runs")] == ["succeeded"]


def test_sql_typed_as_a_source_or_a_date_is_refused_by_validation(
    tmp_path: Path, db_url: str, make_sim: MakeSim
) -> None:
    config = synced_sqlish(tmp_path, db_url, make_sim())

    for command in (["sync"], ["runs"], ["report", "growth"]):
        refused = run_cli([*command, "--source", DROP], config=config)
        assert refused.returncode == 2, command
        assert f'no source named "{DROP}"' in refused.stderr, command
        assert "Traceback" not in refused.stderr
    since = run_cli(["report", "unfollows", "--since", f"2026-01-01{DROP}"], config=config)
    assert since.returncode == 2 and "--since" in since.stderr

    assert [r.status for r in query(db_url, "SELECT status FROM sync_runs")] == ["succeeded"]
    assert query(db_url, "SELECT count(*) FROM sources")[0][0] == 1
