"""A source too big for its pacing and budget, and a full pass in progress, as `sync` and `status`
tell a user: the real command (in this process through click, `cli_in_process`) against the
simulator, on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from followersync.simulator import Simulator
from tests.harness import run_cli, write_config
from tests.sim_support import LI, MakeSim

pytestmark = pytest.mark.cli_in_process


@pytest.fixture
def sim(make_sim: MakeSim) -> Simulator:
    return make_sim(seed=5, accounts={LI: 1_000})


def status_of(config: Path) -> dict[str, Any]:
    done = run_cli(["status", "--format", "json"], config=config)
    assert done.returncode == 0, done.stderr
    [record] = json.loads(done.stdout)
    assert isinstance(record, dict)
    return record


def test_a_pass_paused_by_the_budget_shows_how_far_it_is_and_how_long_it_has_left(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    unlimited = write_config(tmp_path / "a.toml", db_url, sim.base_url, [LI], budget=0)
    assert run_cli(["sync"], config=unlimited).returncode == 0  # the first complete pass: 10 pages
    assert status_of(unlimited)["full_pass_progress"] is None  # no pass in progress

    budgeted = write_config(tmp_path / "b.toml", db_url, sim.base_url, [LI], budget=3)
    done = run_cli(["sync", "--mode", "full"], config=budgeted)
    assert done.returncode == 0, done.stderr
    record = status_of(budgeted)
    assert record["checkpoint"]["pages"] == 3
    assert (
        record["full_pass_progress"] == "full pass 30%: 3 of about 10 pages; about 3 more days at the budget"
    )
    assert "the next UTC day resumes the pass" in record["attention"]

    table = run_cli(["status"], config=budgeted)
    assert (
        "  progress         full pass 30%: 3 of about 10 pages; about 3 more days at the budget"
        in table.stdout
    )


def test_a_first_pass_does_not_know_its_total_yet(tmp_path: Path, db_url: str, sim: Simulator) -> None:
    config = write_config(tmp_path / "f.toml", db_url, sim.base_url, [LI], budget=3)
    assert run_cli(["sync"], config=config).returncode == 0
    assert status_of(config)["full_pass_progress"] == (
        "first full pass: 3 pages so far (the total is known when it ends); 3 pages a day at the budget"
    )


def test_a_source_that_cannot_confirm_in_time_is_named_once_with_the_setting_to_change(
    tmp_path: Path, db_url: str, sim: Simulator
) -> None:
    # 1,000 followers are 10 pages; a pass and its confirming pass are 20 requests, 2.5 s at 0.1 s
    # (plus jitter): longer than a full pass interval of one second.
    config = tmp_path / "f.toml"
    config.write_text(
        f'[api]\nbase_url = "{sim.base_url}"\n[database]\nurl = "{db_url}"\n'
        '[sync]\nfull_pass_interval = "1s"\n'
        '[providers.linkedin]\nmin_request_interval = "0.1s"\ndaily_request_budget = 0\n'
        f'[[sources]]\nname = "{LI.name}"\nprovider = "linkedin"\naccount_id = "{LI.account_id}"\n'
    )
    done = run_cli(["sync"], config=config)
    assert done.returncode == 0, done.stderr
    warnings = [
        line
        for line in map(json.loads, filter(None, done.stderr.splitlines()))
        if line.get("event") == "source.too_slow"
    ]
    assert len(warnings) == 1 and warnings[0]["source"] == LI.name
    said = warnings[0]["detail"]
    assert said.startswith(f"{LI.name}: a full pass is about 10 requests (1,000 followers, 100 a page)")
    assert "longer than sync.full_pass_interval" in said and "[sync] full_pass_interval" in said
    assert status_of(config)["sizing"] == said
    assert f"  note: {said}" in run_cli(["status"], config=config).stdout
