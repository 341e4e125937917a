"""One pass of one source, start to finish.

    plan (full or incremental? resume a checkpoint?) -> start or continue the pass, open a run
    -> for each page: fetch (the client paces and retries) -> write it in one transaction
    -> listing complete: mark who it did not list missing, confirm unfollows (guarded),
       complete the pass -> close the run

What a failure does to the run is decided here and only here: limits defer it (checkpoint kept, the
next run resumes), a stop request defers it after the page in flight commits, anything else fails it
with the error recorded. Pages already committed always stay. docs/semantics.md is the contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from followersync import logging as fslogging
from followersync.api.client import Client, RequestStats
from followersync.api.errors import (
    AccountRestrictedError,
    ApiError,
    BadRequestError,
    CredentialError,
    LimitWindowError,
    NotFoundError,
    PostpressError,
    ProviderLimitError,
    RateLimitedError,
)
from followersync.clock import Clock, StopRequested
from followersync.config import Settings, SourceConfig
from followersync.domain import ErrorType, PassMode, RunStatus
from followersync.page import Page
from followersync.store import pages, runs, unfollows
from followersync.store.limits import end_cooldown, start_cooldown
from followersync.store.passes import (
    Checkpoint,
    complete_pass,
    drop_checkpoint,
    last_full_pass_at,
    load_checkpoint,
    start_pass,
)
from followersync.store.schema import sync_runs
from followersync.store.sources import active_followers, missing_followers
from followersync.sync.budget import BudgetExhausted
from followersync.sync.leases import LeaseLost
from followersync.sync.prefetch import MIN_WAIT, prefetch
from followersync.sync.result import SourceResult
from followersync.sync.rules import plan_pass
from followersync.text import one_line

log = fslogging.get_logger("followersync.passes")

# A failed run's message, kept whole enough to hold the API's title, detail and instance.
_MAX_MESSAGE = 500


@dataclass
class _Run:
    """What the steps of one run share: the source, its pass, and what the run has done so far."""

    source: SourceConfig
    ctx: pages.PassContext
    resume: Checkpoint | None
    pass_started: datetime  # when the pass began (its first run's start): unfollow marking needs it
    result: SourceResult
    stats: RequestStats
    lease_lost: threading.Event | None
    accept_unfollows: bool


# Called after each committed page and when a run ends (the progress display).
ProgressCallback = Callable[["SourceResult", RequestStats], None]


@dataclass
class PassRunner:
    """Runs passes for sources whose account lease the caller holds."""

    database: sa.Engine
    client: Client
    settings: Settings
    clock: Clock
    holder: str
    stop: threading.Event = field(default_factory=threading.Event)
    on_progress: ProgressCallback | None = None

    @property
    def _prefetch_min_wait(self) -> float:
        """How long fetching a page must wait before a full pass fetches ahead in a thread.

        PostgreSQL writes a page in its own process while our writing thread waits on the socket,
        without the interpreter lock: a page fetched meanwhile costs nothing, so from the first page.
        SQLite writes in this process, where a fetching thread competes with the writer: only once
        the API is seen to be slow (`prefetch.MIN_WAIT`).
        """
        return 0.0 if self.database.dialect.name == "postgresql" else MIN_WAIT

    def run(
        self,
        source: SourceConfig,
        source_id: int,
        *,
        mode: str = "auto",
        accept_unfollows: bool = False,
        lease_lost: threading.Event | None = None,
    ) -> SourceResult:
        now = self.clock.now()
        with self.database.begin() as conn:
            checkpoint = load_checkpoint(conn, source_id)
            last_full = last_full_pass_at(conn, source_id)
            missing = missing_followers(conn, source_id)
            plan = plan_pass(mode, checkpoint, last_full, missing, now, self.settings)
            if checkpoint is not None and plan.mode == PassMode.FULL and plan.resume is None:
                drop_checkpoint(conn, source_id)  # too old: restart the pass
            pass_id = plan.resume.pass_id if plan.resume else start_pass(conn, source_id, plan.mode, now)
            pass_started = plan.resume.pass_started_at if plan.resume else now
            run_id = runs.start_run(conn, source_id, pass_id, plan.mode, self.holder, now)
        ctx = pages.PassContext(
            source_id=source_id,
            provider=source.provider,
            pass_id=pass_id,
            run_id=run_id,
            full=plan.mode == PassMode.FULL,
            baseline=last_full is None,
        )
        resumed = plan.resume is not None
        result = SourceResult(source.name, RunStatus.RUNNING, run_id=run_id, mode=plan.mode, resumed=resumed)
        bound = log.bind(source=source.name, run_id=run_id, mode=plan.mode)
        bound.info(
            "run.start",
            resume_pages=plan.resume.pages if plan.resume else None,
            pass_id=pass_id,
        )
        stats = RequestStats()
        # Every log line of this run, the API client's retries included, carries the source and run id.
        with fslogging.bound_contextvars(source=source.name, run_id=run_id):
            self._run_pages(
                _Run(source, ctx, plan.resume, pass_started, result, stats, lease_lost, accept_unfollows)
            )
        result.followers = self._followers_now(source_id)
        if self.on_progress is not None:
            self.on_progress(result, stats)
        # A failed source needs someone; a deferred one resumes by itself on the next run.
        end = bound.error if result.status == RunStatus.FAILED else bound.info
        end(
            "run.end",
            status=result.status,
            pages=result.pages,
            items=result.items,
            listed=result.listed,
            followers=result.followers,
            new=result.new,
            baseline=result.baseline,
            missing=result.missing,
            lost=result.lost,
            unfollows_withheld=result.unfollows_withheld,
            withheld_reason=result.withheld_reason,
            coerced=result.coerced,
            rejected=result.rejected,
            requests=stats.requests,
            error_type=result.error_type,
            message=result.message,
        )
        if result.unfollows_withheld:
            bound.warning(
                "unfollows.withheld",
                unfollows_withheld=result.unfollows_withheld,
                reason=result.withheld_reason,
                hint="if they really left, run `followersync sync --mode full --accept-unfollows --source "
                + source.name
                + "`",
            )
        return result

    def _run_pages(self, run: _Run) -> None:
        """The pass, and what each way it can end does to the run."""
        result, stats = run.result, run.stats
        try:
            self._pages(run)
        except StopRequested:
            self._close_run(
                result, stats, RunStatus.DEFERRED, None, message="stopped by signal; checkpoint kept"
            )
        except (ProviderLimitError, RateLimitedError) as exc:
            result.account_stopped = True
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                self._close_run(result, stats, RunStatus.DEFERRED, exc)  # it said how long: that long
            else:
                self._rest_account(run, exc)
        except (BudgetExhausted, LimitWindowError) as exc:
            result.account_stopped = True
            self._close_run(result, stats, RunStatus.DEFERRED, exc)
        except (CredentialError, AccountRestrictedError) as exc:
            result.account_stopped = True
            self._close_run(result, stats, RunStatus.FAILED, exc)
        except (PostpressError, LeaseLost) as exc:
            self._close_run(result, stats, RunStatus.FAILED, exc)
        except sa.exc.DBAPIError as exc:
            self._close_run(result, stats, RunStatus.FAILED, exc, error_type=ErrorType.DATABASE_ERROR)
        except Exception as exc:
            log.exception("run.crash")
            self._close_run(result, stats, RunStatus.FAILED, exc, error_type=ErrorType.INTERNAL_ERROR)

    def _pages(self, run: _Run) -> None:
        source, ctx, resume, result, stats = run.source, run.ctx, run.resume, run.result, run.stats
        limit = self.settings.provider(source.provider).page_size
        cursor = resume.cursor if resume else None
        pages_in_pass = resume.pages if resume else 0
        listing_done = resume is not None and resume.cursor is None  # only unfollow marking was left
        distinct = _Distinct()
        while not listing_done:
            # A full pass needs every page: the next one is fetched while this one is written. An
            # incremental pass may stop at any page, so it fetches nothing it might not use.
            fetched = prefetch(
                self.client.pages(source, cursor=cursor, limit=limit, stats=stats),
                enabled=ctx.full,
                min_wait=self._prefetch_min_wait,
                name=f"fetch-{source.name}",
            )
            try:
                for page in fetched:
                    if run.lease_lost is not None and run.lease_lost.is_set():
                        raise LeaseLost("the account's lease expired and was taken by another process")
                    now = self.clock.now()
                    pages_in_pass += 1
                    stale = _stale(page, now, run.pass_started) if ctx.full else None
                    with self.database.begin() as conn:
                        outcome = pages.apply_page(conn, ctx, page, now, pages_in_pass, stats)
                        if stale is not None:
                            pages.distrust_pass(conn, ctx.pass_id, stale)
                    if stale is not None:
                        log.warning("pass.untrusted", source=source.name, run_id=ctx.run_id, reason=stale)
                    if page.rejected:
                        log.warning(
                            "items.rejected",
                            source=source.name,
                            run_id=ctx.run_id,
                            page=pages_in_pass,
                            reasons=sorted({item.reason for item in page.rejected}),
                            count=len(page.rejected),
                        )
                    result.pages += 1
                    result.items += outcome.items
                    result.coerced += page.coerced
                    result.rejected += len(page.rejected)
                    result.listed += distinct.count(page)
                    result.new += outcome.new
                    result.baseline += outcome.baseline
                    if self.on_progress is not None:
                        self.on_progress(result, stats)
                    if page.cursor is None or (not ctx.full and outcome.new + outcome.baseline == 0):
                        break
                    if self.stop.is_set():
                        raise StopRequested()
                listing_done = True
            except (BadRequestError, NotFoundError):
                if cursor is None or result.pages > 0:
                    raise
                # The saved cursor was rejected (stale): restart the pass from the beginning, once
                # (docs/semantics.md#checkpoints-and-resume).
                log.warning("checkpoint.rejected", source=source.name, run_id=ctx.run_id)
                ctx, run.pass_started = self._restart_pass(ctx)
                result.resumed = False  # the pass starts again from its first page
                cursor, pages_in_pass = None, 0
            finally:
                fetched.close()  # waits for a page still being fetched: no request outlives the loop
        now = self.clock.now()
        sync = self.settings.sync
        rule = unfollows.UnfollowRule(
            confirmations=sync.unfollow_confirmations,
            guard_fraction=sync.unfollow_guard_fraction,
            guard_min=sync.unfollow_guard_min,
            history_factor=sync.unfollow_history_factor,
            history_min=sync.unfollow_history_min,
            accept=run.accept_unfollows,
        )
        try:
            with self.database.begin() as conn:
                if ctx.full:
                    settled = unfollows.settle_pass(
                        conn,
                        source_id=ctx.source_id,
                        pass_id=ctx.pass_id,
                        pass_started_at=run.pass_started,
                        run_id=ctx.run_id,
                        now=now,
                        rule=rule,
                    )
                    result.missing, result.lost = settled.missing, settled.lost
                    result.unfollows_withheld = settled.unfollows_withheld
                    result.withheld_reason = settled.withheld_reason
                    result.accepted = rule.accept
                complete_pass(conn, ctx.source_id, ctx.pass_id, now)
                end_cooldown(conn, source.account_id)
                self._record_end(conn, result, stats, RunStatus.SUCCEEDED, now)
        except BaseException:
            # Rolled back with the transaction: the run that records the failure marked nothing.
            result.missing = result.lost = result.unfollows_withheld = 0
            result.withheld_reason = None
            raise

    def _followers_now(self, source_id: int) -> int | None:
        """The source's active followers once the run has ended, for the summary (None: the database
        failed, which the run's own status already says)."""
        try:
            with self.database.connect() as conn:
                return active_followers(conn, source_id)
        except sa.exc.DBAPIError:
            return None

    def _restart_pass(self, ctx: pages.PassContext) -> tuple[pages.PassContext, datetime]:
        now = self.clock.now()
        with self.database.begin() as conn:
            drop_checkpoint(conn, ctx.source_id)
            pass_id = start_pass(conn, ctx.source_id, PassMode.FULL, now)
            conn.execute(sync_runs.update().where(sync_runs.c.id == ctx.run_id).values(pass_id=pass_id))
        return pages.PassContext(**{**ctx.__dict__, "pass_id": pass_id}), now

    def _rest_account(self, run: _Run, exc: ApiError) -> None:
        """The provider's limits stopped the account: it rests (`[providers.*] cooldown`, doubled on a
        repeat up to `max_cooldown`) and the run ends deferred, its checkpoint kept, resuming after."""
        provider = self.settings.provider(run.source.provider)
        now = self.clock.now()
        try:
            with self.database.begin() as conn:
                rest = start_cooldown(
                    conn, run.source.account_id, exc.error_type, now, provider.cooldown, provider.max_cooldown
                )
        except sa.exc.DBAPIError:
            self._close_run(run.result, run.stats, RunStatus.DEFERRED, exc)
            return
        exc.error_detail.update(
            cooldown=rest.seconds, retry_after=rest.seconds, resume_at=rest.until.isoformat()
        )
        message = (
            f"{one_line(str(exc), 200)}; account {run.source.account_id} rests "
            f"{_duration(rest.seconds)}, until {rest.until:%Y-%m-%d %H:%M} UTC (checkpoint kept)"
        )
        log.warning(
            "account.cooldown",
            account_id=run.source.account_id,
            seconds=rest.seconds,
            until=rest.until.isoformat(),
            error_type=exc.error_type,
        )
        self._close_run(run.result, run.stats, RunStatus.DEFERRED, exc, message=message)

    def _close_run(
        self,
        result: SourceResult,
        stats: RequestStats,
        status: RunStatus,
        exc: BaseException | None,
        *,
        error_type: str | None = None,
        message: str | None = None,
    ) -> None:
        """Close the run as `status`, recording the error; committed pages and checkpoint stay."""
        detail: dict[str, Any] | None = None
        if exc is not None:
            error_type = error_type or getattr(exc, "error_type", None) or type(exc).__name__
            text = one_line(str(exc), _MAX_MESSAGE)
            detail = dict(getattr(exc, "error_detail", None) or {"detail": text})
            message = message or text
        result.error_type, result.message = error_type, message
        try:
            with self.database.begin() as conn:
                self._record_end(conn, result, stats, status, self.clock.now(), detail)
        except sa.exc.DBAPIError:
            # The database is gone: the run stays `running` and the next process that finds its lease
            # expired records it as abandoned. The pages already committed are safe.
            result.status = status
            log.error("run.not_recorded", source=result.source, run_id=result.run_id, status=status)

    def _record_end(
        self,
        conn: sa.Connection,
        result: SourceResult,
        stats: RequestStats,
        status: RunStatus,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> None:
        result.status = status
        result.requests = stats.requests
        assert result.run_id is not None
        runs.finish_run(
            conn,
            result.run_id,
            status=status,
            now=now,
            requests=stats.requests,
            retries=stats.retries,
            followers_missing=result.missing,
            followers_lost=result.lost,
            unfollows_withheld=result.unfollows_withheld,
            withheld_reason=result.withheld_reason,
            error_type=result.error_type,
            error_detail=detail,
        )


def _stale(page: Page, now: datetime, pass_started: datetime) -> str | None:
    """Why the page is no evidence for the pass (None: it is): the upstream served it from a cache
    filled before the pass began (its `Age`), so it may not list who follows now."""
    if page.age is None or (now - pass_started).total_seconds() >= page.age:
        return None
    return f"an answer the upstream had cached for {page.age:.0f} s, from before the pass began"


def _duration(seconds: float) -> str:
    """`300` as "5m", `3600` as "1h", `90` as "90s": as the configuration writes durations."""
    if seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"


class _Distinct:
    """Counts the distinct followers of a run's pages without keeping every id.

    A follower re-read on a later page is one the listing shifted back under the cursor: a follow at
    the head while the pass ran moves everyone down one place. Those repeats come from the pages just
    before, so the ids of the last few pages are enough (a whole pass's ids would cost memory that
    grows with the listing); only more than `KEPT_PAGES` pages of follows between two requests could
    count someone twice.
    """

    KEPT_PAGES = 4

    def __init__(self) -> None:
        self._recent: list[set[str]] = []

    def count(self, page: Page) -> int:
        ids = {item.id for item in page.items}
        fresh = len(ids.difference(*self._recent))  # set operations: no Python work per follower
        self._recent = [*self._recent[-(self.KEPT_PAGES - 1) :], ids]
        return fresh
