"""A worker runs for weeks: thousands of rounds leave its memory flat."""

from __future__ import annotations

import gc
import os
import tracemalloc
from pathlib import Path

from followersync.simulator import RequestRecord
from followersync.sync.fleet import Fleet
from followersync.sync.worker import Worker
from tests.harness import Harness
from tests.sim_support import MakeSim, instagram_source

SOURCE = instagram_source(name="soak", account_id="acc_soak")
# Rounds: one incremental pass (one request) each. tracemalloc makes each measured round several
# times slower; 149 measured rounds keep the bound below (20 bytes a round, ~3 kB) well above the
# ~1 kB that the measurement itself moves, and far below what anything kept per round would add.
WARM_UP, MEASURED = 100, 250
PACKAGE = str(Path(__file__).resolve().parent.parent / "followersync")
# The simulator package: its trailing separator keeps the prefix from matching anything but its files.
SIMULATOR = os.path.join(PACKAGE, "simulator", "")


def _ours(snapshot: tracemalloc.Snapshot) -> int:
    """Bytes held by memory allocated in followersync's own code (the simulator, our stand-in for the
    API, keeps a record of every request by design: it is not the worker's memory)."""
    return sum(
        stat.size
        for stat in snapshot.statistics("filename")
        if stat.traceback[0].filename.startswith(PACKAGE)
        and not stat.traceback[0].filename.startswith(SIMULATOR)
    )


def test_thousands_of_worker_rounds_keep_memory_flat(tmp_path: Path, make_sim: MakeSim) -> None:
    sim = make_sim(accounts={SOURCE: 10})
    # sync.interval 1 s and a fake clock: every round finds the source due, without waiting.
    h = Harness(f"sqlite:///{tmp_path / 'soak.db'}", sim, [SOURCE], interval=1.0)
    held: dict[int, int] = {}

    def measure(record: RequestRecord) -> None:
        h.clock.sleeps.clear()  # the fake clock's own record of every sleep is not the worker's
        if record.seq == WARM_UP:  # caches filled, the database's pages in use
            tracemalloc.start()
        if record.seq in (WARM_UP + 1, MEASURED):
            # Garbage in reference cycles (SQLAlchemy's execution contexts make some) waits for the
            # collector's next full pass, whose timing is the interpreter's: collect it first, so
            # that only memory something still holds counts.
            gc.collect()
            held[record.seq] = _ours(tracemalloc.take_snapshot())
        if record.seq >= MEASURED:
            tracemalloc.stop()
            h.runner.stop.set()  # the worker ends after this round, as on SIGTERM

    sim.on_request(measure)
    try:
        Worker(Fleet(h.runner, h.settings), [(SOURCE, h.ids[SOURCE.name])]).run(once=False)
    finally:
        tracemalloc.stop()
        h.close()
    assert len(h.runs(SOURCE.name)) >= MEASURED  # it really ran that many rounds
    rounds = MEASURED - WARM_UP - 1
    growth = held[MEASURED] - held[WARM_UP + 1]
    # A result kept per round would be a few hundred bytes each: over 149 rounds, 30 kB and more.
    assert growth < 20 * rounds, f"{growth} bytes more after {rounds} rounds"
