"""Global options where people type them: before or after the sub-command (README, "Commands")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from followersync.cli import hoist_global_options
from followersync.simulator import Simulator
from tests.harness import cli_env, run_cli, write_config
from tests.sim_support import LI, MakeSim


def test_global_options_move_before_the_sub_command_and_nothing_else_does() -> None:
    assert hoist_global_options(["status", "--config", "x.toml", "--format", "json"]) == [
        "--config", "x.toml", "status", "--format", "json",
    ]  # fmt: skip
    assert hoist_global_options(["report", "growth", "--log-format=json", "--days", "3"]) == [
        "--log-format=json", "report", "growth", "--days", "3",
    ]  # fmt: skip
    assert hoist_global_options(["--config", "a.toml", "sync"]) == ["--config", "a.toml", "sync"]
    assert hoist_global_options(["simulate", "--", "--config", "x"]) == ["simulate", "--", "--config", "x"]


def test_status_takes_config_after_the_sub_command(
    tmp_path: Path, sqlite_url: str, make_sim: MakeSim
) -> None:
    sim: Simulator = make_sim(accounts={LI: 30})
    config = write_config(tmp_path / "elsewhere.toml", sqlite_url, sim.base_url, [LI])
    assert run_cli(["sync"], config=config).returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "followersync", "status", "--format", "json", "--config", str(config),
         "--log-format", "json"],
        capture_output=True, text=True, timeout=60, env=cli_env(), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (state,) = json.loads(done.stdout)
    assert (state["source"], state["followers"]) == (LI.name, 30)
