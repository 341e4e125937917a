"""Compare the write path of two versions of followersync, side by side in one run.

    python bench/ab.py REF                      # the working tree against git REF (e.g. HEAD~3)
    python bench/ab.py REF --followers 50000 --rounds 5 --sqlite
    python bench/ab.py REF --churn              # and a last pass after 1% churn (0.5% leave, 0.5% join)

This machine is shared and its speed drifts (the same pass ran 3x slower one day than the day
before), so a change is judged by the ratio of two versions measured alternately in one run, never
by figures from different runs. Each round runs, for each version, a fresh database and source, then
`--passes` full passes in a row (the first pass, then passes over an unchanged listing), each in a
fresh child process of `bench/child.py`; the versions alternate within every round. The version under
test is imported from its own directory (PYTHONPATH), migrations included (a top-level migrations/
folder is imported as followersync.migrations, as an install maps it): REF is checked out into
a temporary git worktree, removed at the end. The measured child is this tree's `bench/child.py`, so
REF must have the `PassRunner` interface it drives.

Prints each round's figures and, per pass, the median followers/s of each version and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parent import Bench  # bench/parent.py: the simulator, databases and measured children
from run import DEFAULT_PG_URL

REPO = Path(__file__).resolve().parent.parent

# Run in the version under test: migrate the database, register one source, print its id.
# A version whose migrations are a top-level migrations/ folder installs it as followersync.migrations
# (pyproject.toml's package-dir), a mapping PYTHONPATH does not make: without this, the import would
# fall through to the editable install's finder and migrate with that checkout's migrations, not the
# version's. Older versions carry followersync/migrations/ and need nothing.
PREPARE = """
import sys
from pathlib import Path
migrations = Path(sys.argv[4]) / "migrations"
if (migrations / "__init__.py").exists():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "followersync.migrations", migrations / "__init__.py", submodule_search_locations=[str(migrations)]
    )
    sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from datetime import UTC, datetime
from followersync.config import SourceConfig
from followersync.store import db
try:
    from followersync.store.sources import reconcile_sources as reconcile
except ImportError:  # in store/runs.py before it was split, and named sync_sources before that
    from followersync.store import runs
    reconcile = getattr(runs, "reconcile_sources", None) or runs.sync_sources
engine = db.create_engine(sys.argv[1])
db.migrate(engine)
with engine.begin() as conn:
    ids = reconcile(conn, [SourceConfig(name="ab", provider=sys.argv[2], account_id=sys.argv[3])],
                            datetime.now(UTC))
print(ids["ab"])
"""


def in_version(code: Path, *argv: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed in {code}:\n{done.stderr[-2000:]}")
    return done.stdout


def one_round(bench: Bench, code: Path, kind: str, args: argparse.Namespace) -> list[float]:
    """A fresh database and source, then `args.passes` full passes; followers/s of each."""
    account = bench.new_account("instagram", args.followers)
    with bench.database(kind) as url:
        source_id = int(in_version(code, sys.executable, "-c", PREPARE, url, "instagram", account, str(code)))
        source = {"name": "ab", "provider": "instagram", "account_id": account, "id": source_id}
        spec: dict[str, Any] = {"kind": "pass", "db_url": url, "sources": [source], "mode": "full"}
        before = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(code)  # the measured child imports this version
        try:
            results = [bench.child(spec) for _ in range(args.passes)]
            if args.churn:
                churn = max(1, args.followers // 200)
                # Leavers first, so that no newcomer is one the pass would never see.
                bench.sim.unfollow(account, count=churn)
                bench.sim.follow(account, churn)
                results.append(bench.child(spec))
        finally:
            if before is None:
                del os.environ["PYTHONPATH"]
            else:
                os.environ["PYTHONPATH"] = before
    return [r["items"] / r["seconds"] for r in results]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref", help="the git revision to compare the working tree with")
    p.add_argument("--followers", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--passes", type=int, default=2, help="full passes per round: the first, then repeats")
    p.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL")
    p.add_argument("--churn", action="store_true", help="then one more pass after 1%% churn")
    p.add_argument("--pg-url", default=os.environ.get("FOLLOWERSYNC_BENCH_PG_URL", DEFAULT_PG_URL))
    args = p.parse_args()
    kind = "sqlite" if args.sqlite else "pg"
    worktree = Path(tempfile.mkdtemp(prefix="followersync-ab-")) / "ref"
    git = ["git", "-C", str(REPO), "worktree"]
    subprocess.run([*git, "add", "--detach", str(worktree), args.ref], check=True)
    versions = {"working tree": REPO, args.ref: worktree}
    figures: dict[str, list[list[float]]] = {name: [] for name in versions}
    bench = Bench(argparse.Namespace(pg_url=args.pg_url, profile=None))
    try:
        print(f"{args.followers:,} Instagram followers, {kind}, {args.rounds} rounds of {args.passes} passes")
        for n in range(args.rounds):
            for name, code in versions.items():
                figures[name].append(one_round(bench, code, kind, args))
                print(f"round {n + 1} {name:>14}: " + "  ".join(f"{f:,.0f}" for f in figures[name][-1]))
    finally:
        bench.close()
        subprocess.run([*git, "remove", "--force", str(worktree)], check=False)
        worktree.parent.rmdir()
    print("\nmedian followers/s per pass (pass 1 is the first pass):")
    new, old = figures["working tree"], figures[args.ref]
    for i in range(args.passes + args.churn):
        a = statistics.median(r[i] for r in new)
        b = statistics.median(r[i] for r in old)
        label = "churn" if i == args.passes else f"pass {i + 1}"
        print(f"{label}: working tree {a:,.0f}  {args.ref} {b:,.0f}  ratio {a / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
