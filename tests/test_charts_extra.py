"""The chart stack is optional (the `charts` extra): without matplotlib, everything but
`report growth --format png` works, and that command says how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from followersync.config import SourceConfig
from followersync.simulator import Simulator
from tests.harness import API_KEY, cli_env, write_config

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

SOURCE = SourceConfig(name="acme-page", provider="linkedin", account_id="acc_li_charts")

# The command line in a process where matplotlib cannot be imported, as after
# `pip install followersync` without the extra (an entry of None in sys.modules makes `import` fail).
WITHOUT_MATPLOTLIB = (
    "import sys, runpy; sys.modules['matplotlib'] = None; sys.argv[0] = 'followersync'; "
    "runpy.run_module('followersync', run_name='__main__')"
)


def cli_without_matplotlib(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", WITHOUT_MATPLOTLIB, "--config", str(config), "--log-format", "json", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=cli_env())


def test_without_the_charts_extra_a_sync_and_the_reports_work_and_png_says_how_to_install_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    with Simulator(api_key=API_KEY) as sim:
        sim.add_account(SOURCE.account_id, "linkedin", followers=30)
        config = write_config(tmp_path / "f.toml", sqlite_url, sim.base_url, [SOURCE])
        synced = cli_without_matplotlib(config, "sync")
    assert synced.returncode == 0, synced.stderr
    for args in (["status"], ["runs"], ["report", "growth", "--format", "csv"], ["report", "unfollows"]):
        done = cli_without_matplotlib(config, *args)
        assert done.returncode == 0, (args, done.stderr)

    png = cli_without_matplotlib(
        config, "report", "growth", "--format", "png", "--output", str(tmp_path / "g.png")
    )
    assert png.returncode == 2
    assert "--format png needs matplotlib, the charts extra: pip install 'followersync[charts]'" in png.stderr
    assert len(png.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "g.png").exists()
