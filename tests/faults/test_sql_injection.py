"""What users type and what the configuration holds reaches SQL only as bound parameters: a name made of
SQL is refused or stored verbatim, never run (the API's own strings are covered in
test_strange_strings.py; a source *name* of SQL is refused by validation, see test_bad_config.py)."""

from __future__ import annotations

from pathlib import Path

from followersync.config import SourceConfig
from followersync.simulator import Simulator
from tests.harness import query, run_cli, write_config

DROP = "x'; DROP TABLE sources; --"
# account_id and user_id are opaque ids of the API: any text is allowed, so it must travel as data.
SQLISH = SourceConfig(
    name="sqlish",
    provider="instagram",
    account_id="acc_'); DELETE FROM sync_runs; --",
    user_id="u' OR '1'='1",
)


def test_sql_in_ids_and_arguments_is_only_ever_data(tmp_path: Path, db_url: str, sim: Simulator) -> None:
    sim.add_account(SQLISH.account_id, "instagram", followers=5)  # the linked account's own
    sim.add_account(SQLISH.account_id, "instagram", followers=40, user_id=SQLISH.user_id)
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [SQLISH])

    done = run_cli(["sync"], config=config)

    assert done.returncode == 0, done.stderr
    [source] = query(db_url, "SELECT name, account_id, user_id FROM sources")
    assert tuple(source) == (SQLISH.name, SQLISH.account_id, SQLISH.user_id)
    assert {(r.account_id, r.user_id) for r in sim.requests} == {(SQLISH.account_id, SQLISH.user_id)}
    assert query(db_url, "SELECT count(*) FROM v_followers")[0][0] == 40

    for command in (["sync"], ["runs"], ["report", "growth"]):
        refused = run_cli([*command, "--source", DROP], config=config)
        assert refused.returncode == 2, command
        assert f'no source named "{DROP}"' in refused.stderr, command
        assert "Traceback" not in refused.stderr
    since = run_cli(["report", "unfollows", "--since", f"2026-01-01{DROP}"], config=config)
    assert since.returncode == 2 and "--since" in since.stderr

    assert [r.status for r in query(db_url, "SELECT status FROM sync_runs")] == ["succeeded"]
    assert query(db_url, "SELECT count(*) FROM sources")[0][0] == 1
