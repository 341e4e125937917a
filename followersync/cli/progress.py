"""The live progress display of a terminal run: one line per source, on stderr.

Shown only when stderr is a terminal (never in cron mail or JSON logs). Log lines written meanwhile
appear above the display, because the structlog stream is resolved at each write (see logging.py)
and rich redirects stderr while the display is live.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from followersync.api.client import RequestStats
from followersync.domain import RunStatus
from followersync.sync.result import SourceResult
from followersync.sync.runner import PassRunner

_STATUS_STYLE: dict[str, str] = {
    RunStatus.SUCCEEDED: "green",
    RunStatus.DEFERRED: "yellow",
    RunStatus.FAILED: "red",
    RunStatus.RUNNING: "cyan",
}


class SourceProgress:
    """Receives the pass runner's progress callbacks and draws them."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, result: SourceResult, stats: RequestStats) -> None:
        with self._lock:
            task = self._tasks.get(result.source)
            if task is None:
                task = self._tasks[result.source] = self._progress.add_task(
                    result.source, total=None, status="", detail=""
                )
            style = _STATUS_STYLE.get(result.status, "white")
            self._progress.update(
                task,
                completed=result.listed,
                status=f"[{style}]{result.status}[/]",
                detail=detail(result, stats),
            )
            if result.status != RunStatus.RUNNING:
                self._progress.update(task, total=result.listed)


def plural(count: int, noun: str) -> str:
    """ "1 request", "2 requests", "1,200 followers"."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def detail(result: SourceResult, stats: RequestStats) -> str:
    """A source's line: its pass so far, what its followers were, the requests it took."""
    waited = f", waited {stats.waited:.1f}s for pacing/backoff" if stats.waited >= 0.1 else ""
    return (
        f"{result.mode or ''} pass: {plural(result.pages, 'page')}, {_followers(result)}, "
        f"{plural(stats.requests, 'request')}{waited}"
    )


def _followers(result: SourceResult) -> str:
    """Distinct followers this run listed, and what they were: a first sync's are the baseline, not
    new; a run that resumed the first pass records more of it."""
    if result.baseline:
        more = " more" if result.resumed else ""
        text = f"{plural(result.listed, 'follower')}{more} recorded (baseline)"
        return text + (f", {result.new:,} new" if result.new else "")
    return f"{plural(result.listed, 'follower')} listed, {result.new:,} new"


@contextmanager
def show_progress(runner: PassRunner, *, enabled: bool | None = None) -> Iterator[None]:
    """While the block runs, draw the runner's progress on a terminal (a no-op elsewhere)."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[status]}"),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    previous = runner.on_progress
    runner.on_progress = SourceProgress(progress)
    try:
        with progress:
            yield
    finally:
        runner.on_progress = previous
