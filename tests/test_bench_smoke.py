"""The benchmark (bench/run.py) still runs, every scenario, with tiny sizes: so that it does not rot.

It checks what the benchmark itself checks (exact events, the incremental pass's two requests) and that
it cleans up after itself; it asserts nothing about speed or memory, which only the benchmark measures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL, require_postgres

pytestmark = pytest.mark.integration  # every test here starts a process or opens a socket

ROOT = Path(__file__).resolve().parent.parent


def _bench_databases() -> set[str]:
    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'fs_bench_%'"))
            return {r[0] for r in rows}
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_every_scenario_runs_with_tiny_sizes(tmp_path: Path) -> None:
    require_postgres()
    before = _bench_databases()
    results = tmp_path / "bench.json"
    recorded = tmp_path / "RESULTS.md"
    recorded.write_text("# Benchmark results\n\n## Commands\n\nmake bench\n\n## 2026-01-01: older\n\nold\n")
    argv = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--pg-url", PG_ADMIN_URL,
        "--record", str(recorded),
        "--followers", "1000",
        "--repeat", "1",
        "--many-sources", "3",
        "--many-followers", "200",
        "--fleet-sources", "2",
        "--fleet-followers", "200",
        "--fleet-latency", "0.001",
        "--growth-scale", "0.002",
        "--only", "baseline,dlt,first,second,churn,incremental,memory,many,sqlite,fleet,startup,growth",
        "--dlt-python", str(tmp_path / "no-dlt" / "python"),  # the dlt rows: "not measured" (see below)
        "--json", str(results),
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    assert proc.stdout.startswith("machine: ")
    assert "| scenario" in proc.stdout
    measures = {m["scenario"]: m for m in json.loads(results.read_text())}
    assert set(measures) == {
        "baseline",
        "dlt first",
        "dlt second",
        "first",
        "second",
        "churn",
        "incremental",
        "memory 1,000",
        "many",
        "sqlite",
        "fleet c1",
        "fleet c16",
        "startup python",
        "startup --help",
        "startup status",
        *(
            f"growth {kind} {name}"
            for kind in ("pg", "sqlite")
            for name in ("upgrade", "one source, a year", "all sources, 90 days", "report growth")
        ),
    }
    assert all(m["values"] for m in measures.values() if not m["scenario"].startswith("dlt"))
    assert measures["dlt first"]["unmeasured"].startswith("no ")
    [dlt_row] = [line for line in proc.stdout.splitlines() if line.startswith("| dlt first ")]
    assert "| not measured: no " in dlt_row
    assert "| first pass >= 3x dlt " in proc.stdout  # the goals against dlt: not judged without it
    assert measures["first"]["requests"] == [5]  # 1,000 Instagram followers, pages of 200
    assert any(note.endswith("exact") for note in measures["churn"]["notes"])
    assert measures["incremental"]["requests"] == [2]
    for kind in ("pg", "sqlite"):  # the growth views before and after the daily sums agree
        assert measures[f"growth {kind} upgrade"]["notes"][0].endswith("exact")
    assert _bench_databases() == before  # every throwaway database dropped
    # The run's output, table and goals included, as the newest dated section of the results file.
    sections = recorded.read_text().split("\n## ")
    assert sections[1] == "Commands\n\nmake bench\n"
    assert sections[2].startswith(f"{datetime.now(UTC):%Y-%m-%d}: make bench (baseline, dlt, first,")
    assert proc.stdout.split("\nrecorded in ")[0].strip() in sections[2]
    assert sections[3] == "2026-01-01: older\n\nold\n"


@pytest.mark.postgres
def test_the_dlt_anchor_runs_when_make_bench_installed_it(tmp_path: Path) -> None:
    """The dlt rows and the goals against them, if `make bench` made .venv-bench-dlt (else skipped)."""
    require_postgres()
    python = ROOT / ".venv-bench-dlt" / "bin" / "python"
    probe = [str(python), "-c", "import dlt, psycopg2"]
    if not python.exists() or subprocess.run(probe, capture_output=True, check=False).returncode:
        pytest.skip("no .venv-bench-dlt with dlt[postgres] (`make bench` makes it)")
    results = tmp_path / "bench.json"
    argv = [
        sys.executable, str(ROOT / "bench" / "run.py"), "--pg-url", PG_ADMIN_URL,
        "--followers", "400", "--repeat", "1", "--only", "dlt,first,second,sqlite",
        "--dlt-python", str(python), "--json", str(results),
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    measures = {m["scenario"]: m for m in json.loads(results.read_text())}
    assert measures["dlt first"]["requests"] == measures["dlt second"]["requests"] == [2]
    assert measures["dlt second"]["notes"][0].endswith("exact")  # merged: 400 rows, 400 ids
    for goal in ("first pass >= 3x dlt", "unchanged pass >= 4x dlt", "SQLite first pass >= 1.0x dlt"):
        [line] = [line for line in proc.stdout.splitlines() if line.startswith(f"| {goal}")]
        assert line.rstrip(" |").endswith(("met", "NOT met")), line


@pytest.mark.postgres
def test_the_side_by_side_comparison_runs_and_removes_its_worktree() -> None:
    require_postgres()
    argv = [
        sys.executable, str(ROOT / "bench" / "ab.py"), "HEAD",
        "--pg-url", PG_ADMIN_URL, "--followers", "400", "--rounds", "1", "--passes", "2", "--churn",
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    medians = [line for line in lines if line.startswith(("pass ", "churn:"))]
    assert [line.split(":")[0] for line in medians] == ["pass 1", "pass 2", "churn"]
    assert all(" ratio " in line for line in medians)
    # The repository's worktrees are shared with every checkout of it: another checkout's comparison,
    # running at the same moment, lists its own. Ours is the one at this checkout's HEAD.
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    listed = subprocess.run(
        [*git, "worktree", "list", "--porcelain"], capture_output=True, text=True, check=True
    ).stdout
    ours = [
        entry
        for entry in listed.split("\n\n")
        if "followersync-ab-" in entry and f"HEAD {head.strip()}" in entry.splitlines()
    ]
    assert ours == []
