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
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The measured child, a file of its own (see its docstring); the parent only shares its API key.
from child import API_KEY
from report import Goal, Measure, format_goals, format_table, load, machine, record

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
# The chained PostgreSQL scenarios: each needs the ones before it as set-up.
CHAIN = ("first", "second", "churn", "incremental")
CHILD = Path(__file__).resolve().with_name("child.py")  # started by path: bench/ is not a package
STARTUP_RUNS = 9
DLT_ANCHOR = CHILD.with_name("dlt_anchor.py")  # run by the dlt venv's python, never by ours
DEFAULT_DLT_PYTHON = CHILD.parent.parent / ".venv-bench-dlt" / "bin" / "python"
DLT_DATASET = "dlt_anchor"
# The goals against dlt: (scenario, its dlt row, the least ratio, how the goal reads).
DLT_GOALS = (
    ("first", "dlt first", 3.0, "first pass >= 3x dlt"),
    ("second", "dlt second", 4.0, "unchanged pass >= 4x dlt"),
    ("sqlite", "dlt first", 1.0, "SQLite first pass >= 1.0x dlt (dlt on PostgreSQL)"),
)


# ---------------------------------------------------------------------------------------------------
# The parent: set-up, the simulator, the children, the goals (bench/report.py prints the table)


class Bench:
    def __init__(self, args: argparse.Namespace, out: Callable[[str], None] = print) -> None:
        self.args = args
        self.out = out
        self.tmp = Path(tempfile.mkdtemp(prefix="followersync-bench-"))
        self.measures: dict[str, Measure] = {}
        self.goals: list[Goal] = []
        self.dlt_version = ""
        self._accounts = 0
        self._profiles = 0
        self._can_checkpoint: bool | None = None
        from followersync.simulator import Simulator

        self.sim = Simulator(API_KEY, latency=0.0, seed=1).start()

    def close(self) -> None:
        self.sim.stop()
        for path in sorted(self.tmp.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        self.tmp.rmdir()

    # -- helpers --------------------------------------------------------------------------------------

    def measure(self, scenario: str, metric: str, **kw: Any) -> Measure:
        if scenario not in self.measures:
            self.measures[scenario] = Measure(scenario, metric, **kw)
        return self.measures[scenario]

    def new_account(self, provider: str, followers: int) -> str:
        self._accounts += 1
        account_id = f"acc_{provider}_{self._accounts:04d}"
        self.sim.add_account(account_id, provider, followers=followers)
        return account_id

    @contextlib.contextmanager
    def database(self, kind: str) -> Iterator[str]:
        """A throwaway database: PostgreSQL (created and dropped) or a SQLite file."""
        if kind == "sqlite":
            path = self.tmp / f"{uuid.uuid4().hex[:8]}.db"
            yield f"sqlite:///{path}"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            return
        name = f"fs_bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(self.args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(self.args.pg_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def prepare(self, db_url: str, sources: Sequence[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """Migrate the database and register `sources` (name, provider, account_id); their specs."""
        from followersync.config import SourceConfig
        from followersync.store import db
        from followersync.store.sources import reconcile_sources

        engine = db.create_engine(db_url)
        try:
            db.migrate(engine)
            configs = [SourceConfig(name=n, provider=p, account_id=a) for n, p, a in sources]
            with engine.begin() as conn:
                ids = reconcile_sources(conn, configs, datetime.now(UTC))
        finally:
            engine.dispose()
        return [{"name": n, "provider": p, "account_id": a, "id": ids[n]} for n, p, a in sources]

    def settle(self) -> None:
        """CHECKPOINT before each measured child, so that none starts while PostgreSQL is still writing
        out the previous one's work, and each starts alike (its first change to a page after a
        checkpoint logs the whole page, as a daily pass does). Needs a superuser; skipped otherwise."""
        if self._can_checkpoint is False:
            return
        engine = sa.create_engine(self.args.pg_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("CHECKPOINT"))
            self._can_checkpoint = True
        except sa.exc.DBAPIError:
            self._can_checkpoint = False
            print("  .. CHECKPOINT refused (not a superuser): figures may vary more", file=sys.stderr)
        finally:
            engine.dispose()

    def child(self, spec: dict[str, Any]) -> dict[str, Any]:
        self.settle()
        result_path = self.tmp / f"result-{uuid.uuid4().hex[:8]}.json"
        spec = {"base_url": self.sim.base_url, "result_path": str(result_path), **spec}
        argv = [sys.executable, str(CHILD)]
        if self.args.profile is not None:
            # py-spy samples the child from outside (no instrumentation overhead in the pass itself);
            # raw "collapsed stack" output, one file per child, for bench/profile_summary.py.
            self.args.profile.mkdir(parents=True, exist_ok=True)
            self._profiles += 1
            out = self.args.profile / f"{self._profiles:02d}-{spec['kind']}-{spec.get('mode', '')}.txt"
            argv = ["py-spy", "record", "--format", "raw", "--rate", "250", "-o", str(out), "--", *argv]
        proc = subprocess.run(
            argv,
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
        result_path.unlink()
        if result.get("statuses", ["succeeded"]) != ["succeeded"]:
            raise RuntimeError(f"pass did not succeed: {result}\n{proc.stderr[-3000:]}")
        return result

    def query(self, db_url: str, sql: str, **params: Any) -> list[sa.Row[Any]]:
        engine = sa.create_engine(db_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(sa.text(sql), params))
        finally:
            engine.dispose()

    def record(self, m: Measure, result: dict[str, Any], value: float) -> None:
        m.values.append(value)
        m.requests.append(int(result.get("requests", 0)))
        m.rss_kb.append(int(result["rss_kb"]))

    def progress(self, text: str) -> None:
        print(f"  .. {text}", file=sys.stderr, flush=True)

    # -- scenarios ------------------------------------------------------------------------------------

    def run_baseline(self) -> None:
        n = self.args.followers
        m = self.measure("baseline", "followers/s", goal="the physical limit (binary COPY)")
        account = self.new_account("instagram", n)
        source = {"name": "copy", "provider": "instagram", "account_id": account, "id": 0}
        for rep in range(self.args.repeat):
            with self.database("pg") as url:
                result = self.child({"kind": "copy", "db_url": url, "sources": [source]})
            self.record(m, result, result["items"] / result["seconds"])
            self.progress(f"baseline {rep + 1}: {m.values[-1]:,.0f} rows/s")
        m.notes.append("RSS holds all rows in memory: not comparable")

    def dlt_unavailable(self) -> str:
        """Why dlt cannot be run ("" when it can), and its version in a note."""
        python = Path(self.args.dlt_python)
        if not python.exists():
            return f"no {python} (`make bench` makes it when it can install dlt)"
        probe = subprocess.run(
            [str(python), "-c", "import dlt, psycopg2; print(dlt.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            last = (probe.stderr.strip().splitlines() or ["?"])[-1]
            return f"dlt not importable with {python} ({last})"
        self.dlt_version = probe.stdout.strip()
        return ""

    def dlt_child(self, spec: dict[str, Any]) -> dict[str, Any]:
        """One dlt pass in a fresh process of the dlt venv; its JSON line."""
        self.settle()
        spec = {"base_url": self.sim.base_url, "api_key": API_KEY, "dataset": DLT_DATASET, **spec}
        proc = subprocess.run(
            [self.args.dlt_python, str(DLT_ANCHOR)],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            check=False,
            cwd=spec["pipelines_dir"],  # dlt looks for its .dlt/ config here: nothing of the checkout
            env={**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"},
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"dlt anchor failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result

    def run_dlt(self) -> None:
        """dlt's first pass (empty dataset) and second (unchanged listing) per repeat, one database each."""
        n = self.args.followers
        first = self.measure("dlt first", "followers/s", goal="the peer anchor: dlt merge, empty dataset")
        second = self.measure("dlt second", "followers/s", goal="dlt merge, unchanged listing")
        why = self.dlt_unavailable()
        if why:
            first.unmeasured = second.unmeasured = why
            self.progress(f"dlt not measured: {why}")
            return
        account = self.new_account("instagram", n)
        try:
            for rep in range(self.args.repeat):
                with self.database("pg") as url, tempfile.TemporaryDirectory(dir=self.tmp) as workdir:
                    spec = {"db_url": url, "account_id": account, "pipelines_dir": workdir}
                    for m in (first, second):
                        result = self.dlt_child(spec)
                        self.record(m, result, result["items"] / result["seconds"])
                        self.progress(f"{m.scenario} {rep + 1}: {m.values[-1]:,.0f} followers/s")
                    rows, ids = self.query(
                        url, f"SELECT count(*), count(DISTINCT id) FROM {DLT_DATASET}.followers"
                    )[0]
                    second.notes.append(
                        f"rep {rep + 1}: {rows:,} rows, {ids:,} ids in the dataset after both passes"
                        f" (expected {n:,}): " + ("exact" if rows == ids == n else "WRONG")
                    )
        except RuntimeError as exc:
            for m in (first, second):
                m.values.clear()
                m.unmeasured = "the dlt anchor failed (its error is above the table)"
            print(exc, file=sys.stderr)
            return
        first.notes.append(
            f"dlt {self.dlt_version}, RESTClient pages of 200 yielded whole, merge on id (delete-insert"
            " through a staging dataset), insert-values load files; each pass a fresh process"
        )

    def run_chain(self, wanted: set[str]) -> None:
        """first -> second -> churn -> incremental on one PostgreSQL database per repeat."""
        n = self.args.followers
        last = max(CHAIN.index(s) for s in wanted)
        for rep in range(self.args.repeat):
            account = self.new_account("instagram", n)
            with self.database("pg") as url:
                [source] = self.prepare(url, [("brand-ig", "instagram", account)])
                spec = {"kind": "pass", "db_url": url, "sources": [source]}
                first = self.child({**spec, "mode": "full"})
                if "first" in wanted:
                    m = self.measure(
                        "first",
                        "followers/s",
                        goal=">= 60,000/s and >= 0.22 x baseline",
                        anchor="dlt first",
                    )
                    self.record(m, first, first["items"] / first["seconds"])
                    self.progress(f"first {rep + 1}: {m.values[-1]:,.0f} followers/s")
                if last < 1:
                    continue
                second = self.child({**spec, "mode": "full"})
                if "second" in wanted:
                    m = self.measure("second", "followers/s", goal=">= 80,000/s", anchor="dlt second")
                    self.record(m, second, second["items"] / second["seconds"])
                    self.progress(f"second {rep + 1}: {m.values[-1]:,.0f} followers/s")
                if last < 2:
                    continue
                churn = max(1, n // 200)  # 1% of the followers: half leave, half arrive
                # Unfollows first, so that none of them is a new follower the pass would never see.
                self.sim.unfollow(account, count=churn)
                self.sim.follow(account, churn)
                result = self.child({**spec, "mode": "full"})
                if "churn" in wanted:
                    m = self.measure(
                        "churn",
                        "followers/s",
                        goal="as fast as `second`; events exact",
                        anchor="dlt second",
                    )
                    self.record(m, result, result["items"] / result["seconds"])
                    [run_id] = result["run_ids"]
                    events = dict(
                        self.query(
                            url,
                            "SELECT event, count(*) FROM follow_events WHERE run_id = :r GROUP BY event",
                            r=run_id,
                        )
                    )
                    # The leavers are missing now (unfollowed once the next full pass confirms it).
                    exact = events == {"follow": churn} and (
                        result["new"],
                        result["missing"],
                        result["lost"],
                    ) == (churn, churn, 0)
                    missing = self.query(
                        url,
                        "SELECT count(*) FROM followers WHERE missing_since IS NOT NULL AND source_id = :s",
                        s=source["id"],
                    )[0][0]
                    exact = exact and missing == churn
                    m.notes.append(
                        f"rep {rep + 1}: follow {events.get('follow', 0)}, missing {missing} "
                        f"(expected {churn} each), unfollow {events.get('unfollow', 0)} (expected 0): "
                        + ("exact" if exact else "WRONG")
                    )
                    m.met = exact if m.met is None else (m.met and exact)
                    self.progress(f"churn {rep + 1}: {m.values[-1]:,.0f} followers/s, events exact={exact}")
                if last < 3:
                    continue
                self.sim.follow(account, 3)
                result = self.child({**spec, "mode": "incremental"})
                m = self.measure(
                    "incremental", "DB ms", goal="2 requests, < 50 ms DB time", higher_is_better=False
                )
                self.record(m, result, result["db_seconds"] * 1000)
                ok = result["requests"] == 2 and result["new"] == 3
                m.notes.append(
                    f"rep {rep + 1}: {result['requests']} requests, {result['new']} new, "
                    f"{result['transactions']} transactions, wall {result['seconds'] * 1000:.0f} ms"
                )
                m.met = (ok and m.values[-1] < 50) if m.met is None else (m.met and ok and m.values[-1] < 50)
                self.progress(
                    f"incremental {rep + 1}: {m.values[-1]:.1f} ms DB, {result['requests']} requests"
                )

    def run_memory(self) -> None:
        sizes = [100_000] + ([1_000_000] if self.args.large else [])
        if self.args.followers < 100_000:  # the smoke test: keep it tiny
            sizes = [self.args.followers]
        for size in sizes:
            m = self.measure(
                f"memory {size:,}", "MB", goal="<= 80 MB, flat within 10%", higher_is_better=False
            )
            account = self.new_account("instagram", size)
            for rep in range(self.args.repeat):
                with self.database("pg") as url:
                    [source] = self.prepare(url, [("brand-ig", "instagram", account)])
                    result = self.child({"kind": "pass", "db_url": url, "sources": [source], "mode": "full"})
                self.record(m, result, result["rss_kb"] / 1024)
                m.notes.append(
                    f"rep {rep + 1}: {result['rss_before_kb'] / 1024:.1f} MB before the pass (interpreter and"
                    f" imports), {result['items'] / result['seconds']:,.0f} followers/s"
                )
                self.progress(f"memory {size:,} {rep + 1}: {m.values[-1]:.1f} MB")
            m.met = max(m.values) <= 80

    def run_many(self) -> None:
        count, each = self.args.many_sources, self.args.many_followers
        m = self.measure("many", "followers/s", goal=">= 0.8 x `first`")
        for rep in range(self.args.repeat):
            sources = [
                (f"ig-{i:03d}", "instagram", self.new_account("instagram", each)) for i in range(count)
            ]
            with self.database("pg") as url:
                specs = self.prepare(url, sources)
                result = self.child(
                    {
                        "kind": "pass",
                        "db_url": url,
                        "sources": specs,
                        "mode": "full",
                        "fleet": True,
                        "concurrency": 16,
                    }
                )
            self.record(m, result, result["items"] / result["seconds"])
            self.progress(f"many {rep + 1}: {m.values[-1]:,.0f} followers/s")
        m.notes.append(f"{count} sources x {each:,} followers, one account each, concurrency 16")

    def run_sqlite(self) -> None:
        n = self.args.followers
        m = self.measure("sqlite", "followers/s", goal=">= 30,000/s", anchor="dlt first")
        account = self.new_account("instagram", n)
        for rep in range(self.args.repeat):
            with self.database("sqlite") as url:
                [source] = self.prepare(url, [("brand-ig", "instagram", account)])
                result = self.child({"kind": "pass", "db_url": url, "sources": [source], "mode": "full"})
            self.record(m, result, result["items"] / result["seconds"])
            self.progress(f"sqlite {rep + 1}: {m.values[-1]:,.0f} followers/s")
        m.met = m.median >= 30_000

    def run_startup(self) -> None:
        """Whole processes, as cron and shell completions start them: `followersync --help`, and
        `status` on a small SQLite database, each the median of STARTUP_RUNS, next to a bare
        interpreter measured in the same minutes."""
        program = Path(sys.executable).with_name("followersync")
        with tempfile.TemporaryDirectory() as directory:
            config = Path(directory) / "followersync.toml"
            url = f"sqlite:///{Path(directory) / 'startup.db'}"
            config.write_text(
                f'[database]\nurl = "{url}"\n'
                '[[sources]]\nname = "brand-ig"\nprovider = "instagram"\naccount_id = "acc_1"\n'
            )
            self.prepare(url, [("brand-ig", "instagram", "acc_1")])
            commands = {
                "startup python": ([sys.executable, "-c", "pass"], None),
                "startup --help": ([str(program), "--help"], 100.0),
                "startup status": ([str(program), "--config", str(config), "status"], 200.0),
            }
            for name, (argv, goal) in commands.items():
                m = self.measure(
                    name, "ms", higher_is_better=False, goal=f"<= {goal:.0f} ms (median)" if goal else ""
                )
                for _ in range(STARTUP_RUNS):
                    started = time.perf_counter()
                    subprocess.run(argv, check=True, capture_output=True, cwd=directory)
                    m.values.append((time.perf_counter() - started) * 1000)
                if goal is not None:
                    m.met = m.median <= goal
                self.progress(f"{name}: {m.median:.0f} ms")

    def run_growth(self) -> None:
        """v_follower_growth_daily at fleet scale, on each database: the view of revision 0004 (every
        event summed) and, after the upgrade, the newest (the daily sums); bench/growth.py says how."""
        import growth

        from followersync.store import db

        scale = self.args.growth_scale
        for kind in ("pg", "sqlite"):
            events = growth.events_total(kind, scale)
            with self.database(kind) as url:
                engine = db.create_engine(url)
                try:
                    db.migrate(engine, "0004")
                    started = time.perf_counter()
                    growth.build(engine, kind, scale)
                    built = time.perf_counter() - started
                    self.progress(f"growth {kind}: {events:,} events written in {built:.0f} s")
                    before = growth.time_queries(engine)
                    before_rows = growth.whole_view(engine)
                    self.settle()
                    started = time.perf_counter()
                    db.migrate(engine)
                    upgrade = time.perf_counter() - started
                    after = growth.time_queries(engine)
                    exact = growth.whole_view(engine) == before_rows
                finally:
                    engine.dispose()
            m = self.measure(f"growth {kind} upgrade", "s", higher_is_better=False)
            m.values.append(upgrade)
            m.notes.append(
                f"migration 0005 summing {events:,} events of {growth.SOURCES} sources over {growth.DAYS}"
                f" days; the view's {len(before_rows):,} rows after it equal those before: "
                + ("exact" if exact else "WRONG")
            )
            for name, values in after.items():
                goal = growth.GOALS_MS.get(name)
                m = self.measure(
                    f"growth {kind} {name}",
                    "ms",
                    higher_is_better=False,
                    goal=f"<= {goal:.0f} ms (median)" if goal else "",
                )
                m.values.extend(values)
                was = statistics.median(before[name])
                m.notes.append(f"before the daily sums (revision 0004): {was:,.1f} ms")
                if goal is not None:
                    m.met = m.median <= goal and exact
                self.progress(f"growth {kind} {name}: {m.median:.1f} ms")

    def run_fleet(self) -> None:
        count, each, latency = self.args.fleet_sources, self.args.fleet_followers, self.args.fleet_latency
        sources = [(f"li-{i:03d}", "linkedin", self.new_account("linkedin", each)) for i in range(count)]
        walls: dict[int, Measure] = {}
        self.sim.set_latency(latency)
        try:
            for concurrency in (1, 16):
                m = walls[concurrency] = self.measure(
                    f"fleet c{concurrency}", "s", higher_is_better=False, goal="speed-up >= 12.8"
                )
                for rep in range(self.args.repeat):
                    with self.database("pg") as url:
                        specs = self.prepare(url, sources)
                        result = self.child(
                            {
                                "kind": "pass",
                                "db_url": url,
                                "sources": specs,
                                "mode": "full",
                                "fleet": True,
                                "concurrency": concurrency,
                            }
                        )
                    self.record(m, result, result["seconds"])
                    ideal = result["requests"] * latency / concurrency
                    m.notes.append(
                        f"rep {rep + 1}: {result['items']:,} followers, {result['requests']} requests; "
                        f"latency alone: {ideal:.1f} s"
                    )
                    self.progress(f"fleet c{concurrency} {rep + 1}: {m.values[-1]:.1f} s")
        finally:
            self.sim.set_latency(0.0)
        speedup = walls[1].median / walls[16].median
        walls[16].notes.append(f"speed-up {speedup:.1f}x (goal >= 12.8x)")
        walls[16].met = speedup >= 12.8

    # -- the goals that span scenarios ---------------------------------------------------------------

    def judge(self) -> None:
        base = self.measures.get("baseline")
        first = self.measures.get("first")
        if first is not None:
            ratio_ok = base is None or first.median / base.median >= 0.22
            first.met = first.median >= 60_000 and ratio_ok
        second = self.measures.get("second")
        if second is not None:
            second.met = second.median >= 80_000
        churn = self.measures.get("churn")
        if churn is not None and second is not None:
            as_fast = churn.median >= 0.9 * second.median
            churn.notes.append(f"{churn.median / second.median:.2f} x `second`")
            churn.met = bool(churn.met) and as_fast
        many = self.measures.get("many")
        if many is not None and first is not None:
            many.notes.append(f"{many.median / first.median:.2f} x `first`")
            many.met = many.median >= 0.8 * first.median
        small = self.measures.get("memory 100,000")
        big = self.measures.get("memory 1,000,000")
        if small is not None and big is not None:
            growth = big.median / small.median - 1
            big.notes.append(f"{growth:+.1%} from 100,000")
            big.met = bool(big.met) and growth <= 0.10
        for scenario, anchor, least, text in DLT_GOALS:
            ours, theirs = self.measures.get(scenario), self.measures.get(anchor)
            if ours is None or theirs is None:
                continue  # one of the two was not asked for
            if not theirs.values:
                self.goals.append(Goal(text, f"not measured: {theirs.unmeasured}"))
                continue
            times = ours.median / theirs.median
            figure = f"{times:.2f}x ({ours.median:,.0f} / {theirs.median:,.0f} followers/s)"
            self.goals.append(Goal(text, figure, times >= least))


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
    bench = Bench(args)
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
    bench.judge()
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
