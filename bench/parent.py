"""The benchmark's parent: the machinery every scenario runs on (bench/scenarios.py holds the scenarios).

`Bench` starts the simulator (in this process, on a real socket), makes throwaway databases
(PostgreSQL, created and dropped; SQLite, a temp file), migrates them and registers their sources,
starts each measured pass in a fresh child process (`Bench.child`: bench/child.py; `Bench.dlt_child`:
bench/dlt_anchor.py in the dlt venv), after a CHECKPOINT, and records what the children report as
`Measure`s (bench/report.py prints the table). bench/run.py runs the scenarios; bench/ab.py uses
`Bench` alone, for its side-by-side passes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The measured child, a file of its own (see its docstring); the parent only shares its API key.
from child import API_KEY
from report import Goal, Measure

CHILD = Path(__file__).resolve().with_name("child.py")  # started by path: bench/ is not a package
DLT_ANCHOR = CHILD.with_name("dlt_anchor.py")  # run by the dlt venv's python, never by ours
DLT_DATASET = "dlt_anchor"


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

    # -- the dlt anchor's process ---------------------------------------------------------------------

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
