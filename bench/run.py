"""The followersync benchmark: how fast a pass writes, how much memory it takes, how a fleet scales.

    python bench/run.py                       # every scenario but `large` and `fleet`, 3 repeats
    python bench/run.py --only first,sqlite   # some scenarios (their set-up passes still run)
    python bench/run.py --large               # adds the 1,000,000-follower memory case
    python bench/run.py --only fleet          # the latency-bound fleet (concurrency 1 takes ~100 s)

How it measures, and why:
- The simulator (the fake postpress API) runs in this process, on a real socket, with no latency
  unless a scenario says otherwise. Every measured pass runs in a fresh child process
  (`bench/child.py`), so its peak memory (VmHWM, the kernel's high-water mark of the
  child's resident set) is the pass's own, interpreter and imports included, and nothing of the
  simulator's listings or of earlier passes. The child times only the pass itself: set-up
  (database, migrations, sources) is done here.
- Throughput is items written / wall time of `PassRunner.run` (planning, every page, unfollow marking
  and the run's closing included): what a user waits for.
- Database time (the incremental scenario) is the time between each transaction's BEGIN and the end
  of its COMMIT, summed over the run.
- The baseline is the physical limit: the same Instagram rows binary-COPYed into a table with a
  primary key, in one transaction, measured in the same run on the same server.
- The peer anchor is dlt (`bench/dlt_anchor.py`): the same simulator pages, loaded with dlt's `merge`
  on `id` into a dataset of the scenario's database, a first pass (empty dataset) and a second over
  the unchanged listing, each in a fresh process of its own virtualenv (`.venv-bench-dlt`, made by
  `make bench`: dlt is no dependency of followersync). Timed like a pass: `pipeline.run`, every page
  fetched and loaded. Without that venv (`--dlt-python`), the dlt rows read "not measured: why".
- Every rate is reported over COPY's (`x COPY`) and over dlt's (`x dlt`), all of one run; the goals
  against dlt are judged in a table of their own.
- Start-up (`startup`) is whole processes as cron starts them: `followersync --help` and `status` on a
  small SQLite database, each the median of STARTUP_RUNS runs, beside a bare `python -c pass`.
- PostgreSQL scenarios each get a throwaway database (created and dropped here); SQLite a temp file.
  Each measured child starts after a CHECKPOINT (when the user may), so that none pays for the
  previous one's writes. Pacing is off (min_request_interval 0) and the daily budget unlimited (0).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# The parent's machinery is bench/parent.py, the scenarios bench/scenarios.py, the measured child
# bench/child.py; all are imported by plain name: bench/ is not a package, run.py is run as a script.
from report import Goal, format_goals, format_table, load, machine, record
from scenarios import CHAIN, Scenarios

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCENARIOS = (
    "baseline",
    "dlt",
    "first",
    "second",
    "churn",
    "incremental",
    "memory",
    "many",
    "sqlite",
    "fleet",
    "startup",
    "growth",
)
DEFAULT_SCENARIOS = tuple(s for s in SCENARIOS if s != "fleet")
DEFAULT_DLT_PYTHON = Path(__file__).resolve().parent.parent / ".venv-bench-dlt" / "bin" / "python"
# The goals against dlt: (scenario, its dlt row, the least ratio, how the goal reads).
DLT_GOALS = (
    ("first", "dlt first", 3.0, "first pass >= 3x dlt"),
    ("second", "dlt second", 4.0, "unchanged pass >= 4x dlt"),
    ("sqlite", "dlt first", 1.0, "SQLite first pass >= 1.0x dlt (dlt on PostgreSQL)"),
)

# ---------------------------------------------------------------------------------------------------
# The goals that span scenarios (bench/report.py prints the table)


def judge(bench: Scenarios) -> None:
    """Mark the measures whose goals compare scenarios (first against baseline, churn against second,
    many against first, memory's growth), and add the goals against dlt to `bench.goals`."""
    base = bench.measures.get("baseline")
    first = bench.measures.get("first")
    if first is not None:
        ratio_ok = base is None or first.median / base.median >= 0.22
        first.met = first.median >= 60_000 and ratio_ok
    second = bench.measures.get("second")
    if second is not None:
        second.met = second.median >= 80_000
    churn = bench.measures.get("churn")
    if churn is not None and second is not None:
        as_fast = churn.median >= 0.9 * second.median
        churn.notes.append(f"{churn.median / second.median:.2f} x `second`")
        churn.met = bool(churn.met) and as_fast
    many = bench.measures.get("many")
    if many is not None and first is not None:
        many.notes.append(f"{many.median / first.median:.2f} x `first`")
        many.met = many.median >= 0.8 * first.median
    small = bench.measures.get("memory 100,000")
    big = bench.measures.get("memory 1,000,000")
    if small is not None and big is not None:
        growth = big.median / small.median - 1
        big.notes.append(f"{growth:+.1%} from 100,000")
        big.met = bool(big.met) and growth <= 0.10
    for scenario, anchor, least, text in DLT_GOALS:
        ours, theirs = bench.measures.get(scenario), bench.measures.get(anchor)
        if ours is None or theirs is None:
            continue  # one of the two was not asked for
        if not theirs.values:
            bench.goals.append(Goal(text, f"not measured: {theirs.unmeasured}"))
            continue
        times = ours.median / theirs.median
        figure = f"{times:.2f}x ({ours.median:,.0f} / {theirs.median:,.0f} followers/s)"
        bench.goals.append(Goal(text, figure, times >= least))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg-url", default=os.environ.get("FOLLOWERSYNC_BENCH_PG_URL", DEFAULT_PG_URL))
    p.add_argument("--followers", type=int, default=200_000, help="followers of the single source")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--large", action="store_true", help="add the 1,000,000-follower memory case")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help=f"scenarios to run, comma-separated or repeated: {', '.join(SCENARIOS)}",
    )
    p.add_argument("--many-sources", type=int, default=200)
    p.add_argument("--many-followers", type=int, default=1_000)
    p.add_argument("--fleet-sources", type=int, default=100)
    p.add_argument("--fleet-followers", type=int, default=2_000)
    p.add_argument("--fleet-latency", type=float, default=0.05)
    p.add_argument(
        "--growth-scale",
        type=float,
        default=1.0,
        help="the growth data set's size (1: 12.3 million events on PostgreSQL, 2 million on SQLite)",
    )
    p.add_argument(
        "--dlt-python",
        default=os.environ.get("FOLLOWERSYNC_BENCH_DLT_PYTHON", str(DEFAULT_DLT_PYTHON)),
        help="the python of a venv with dlt[postgres], for the dlt anchor (`make bench` makes one)",
    )
    p.add_argument("--json", type=Path, help="also write the measures to this file")
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="also put the whole output into FILE as a dated section, newest first (make bench:"
        " bench/RESULTS.md)",
    )
    p.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample every child with py-spy (pip install py-spy) into DIR (slows the passes down)",
    )
    args = p.parse_args(argv)
    only = [s.strip() for item in args.only for s in item.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        p.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = [s for s in SCENARIOS if s in only] if only else list(DEFAULT_SCENARIOS)
    # Absolute (the dlt child runs in a temp dir), not resolved: a venv's python is a symlink out of it.
    args.dlt_python = str(Path(args.dlt_python).absolute())
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    output: list[str] = []

    def say(text: str = "") -> None:
        print(text)
        output.append(text)

    say(machine(args.pg_url))
    say(f"command: python bench/run.py {' '.join(argv)}".rstrip())
    say(f"followers {args.followers:,}, repeats {args.repeat}, scenarios {', '.join(args.scenarios)}")
    bench = Scenarios(args)
    started = time.perf_counter()
    try:
        wanted = set(args.scenarios)
        if "baseline" in wanted:
            bench.run_baseline()
        if "dlt" in wanted:
            bench.run_dlt()
        if wanted & set(CHAIN):
            bench.run_chain(wanted & set(CHAIN))
        if "memory" in wanted:
            bench.run_memory()
        if "many" in wanted:
            bench.run_many()
        if "sqlite" in wanted:
            bench.run_sqlite()
        if "fleet" in wanted:
            bench.run_fleet()
        if "startup" in wanted:
            bench.run_startup()
        if "growth" in wanted:
            bench.run_growth()
    finally:
        bench.close()
    judge(bench)
    say()
    say(format_table(bench.measures))
    if bench.goals:
        say()
        say(format_goals(bench.goals))
    say(f"\ntotal {time.perf_counter() - started:.0f} s; load average at the end: {load()}")
    if args.record is not None:
        title = f"{datetime.now(UTC):%Y-%m-%d}: make bench ({', '.join(args.scenarios)})"
        record(args.record, title, "\n".join(output))
        print(f"\nrecorded in {args.record}")
    if args.json is not None:
        args.json.write_text(
            json.dumps([m.__dict__ | {"median": m.median} for m in bench.measures.values()], indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
