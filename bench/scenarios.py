"""The benchmark's scenarios: each runs its passes through the parent's machinery and records them.

`Scenarios` is `Bench` (bench/parent.py: simulator, databases, measured children) with one method per
scenario: `run_baseline` (binary COPY), `run_dlt` (the peer anchor), `run_chain` (first, second, churn,
incremental), `run_memory`, `run_many`, `run_sqlite`, `run_startup`, `run_growth` and `run_fleet`.
Which of them run, and the goals that span scenarios (`judge`), are bench/run.py's.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parent import DLT_DATASET, Bench
from report import Measure

# The chained PostgreSQL scenarios: each needs the ones before it as set-up.
CHAIN = ("first", "second", "churn", "incremental")
STARTUP_RUNS = 9


class Scenarios(Bench):
    """`Bench` and the scenarios, one `run_*` method each; bench/run.py's `main` says which run."""

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
