"""How long a full pass takes at its pacing and daily budget, and whether unfollows can be confirmed
in time (docs/configuration.md#sizing).

A full pass costs one request per page. Unfollows are confirmed by a second complete full pass, so a
source needs two passes (twice its pages) within `sync.full_pass_interval` to confirm anyone before
the next pass is due anyway. Pacing makes each request wait `min_request_interval` plus 25% on average
(the jitter is 0-50%); the daily budget allows `daily_request_budget` requests per UTC day.

Plain arithmetic on settings and counts: no database, no clock, cheap enough for `status` to import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from followersync.config import ProviderSettings, SyncSettings

AVERAGE_JITTER = 1.25  # pacing's random 0-50% on top of the interval, on average
DAY = 86400.0


@dataclass(frozen=True)
class PassSize:
    """What a full pass of `followers` costs at the provider's settings."""

    followers: int
    page_size: int
    pages: int  # requests for one full pass
    hours_at_pacing: float  # for `pages` requests, at min_request_interval with jitter
    days_at_budget: float | None  # days of budget for `pages` requests (None: no budget)

    @classmethod
    def of(cls, followers: int, provider: ProviderSettings) -> PassSize:
        pages = max(1, math.ceil(followers / provider.page_size))
        budget = provider.daily_request_budget
        return cls(
            followers=followers,
            page_size=provider.page_size,
            pages=pages,
            hours_at_pacing=paced_seconds(pages, provider) / 3600,
            days_at_budget=pages / budget if budget else None,
        )


def seconds_for(requests: int, provider: ProviderSettings) -> float:
    """The least time `requests` requests take at the pacing, when each UTC day allows only the budget:
    whole days for all but the last day's share, then that share at the pacing (a pass that starts
    at midnight; later in the day, it takes longer)."""
    budget = provider.daily_request_budget
    if not budget or requests <= budget:
        return paced_seconds(requests, provider)
    full_days = math.ceil(requests / budget) - 1
    return full_days * DAY + paced_seconds(requests - full_days * budget, provider)


def paced_seconds(requests: int, provider: ProviderSettings) -> float:
    """How long `requests` requests take at the pacing alone (interval plus its average jitter)."""
    return requests * provider.min_request_interval * AVERAGE_JITTER


def too_slow(
    source: str, provider_name: str, size: PassSize, provider: ProviderSettings, sync: SyncSettings
) -> str | None:
    """A sentence when the source cannot complete a full pass and its confirming pass within
    `sync.full_pass_interval` at its pacing and budget (so unfollows are confirmed late, or never
    within a day), naming the numbers and the settings to change; None when it can."""
    needed = 2 * size.pages
    took = seconds_for(needed, provider)
    if took <= sync.full_pass_interval:
        return None
    budget = provider.daily_request_budget
    at_budget = f", {needed / budget:.1f} days of daily_request_budget {budget:,}" if budget else ""
    return (
        f"{source}: a full pass is about {size.pages:,} requests ({size.followers:,} followers, "
        f"{size.page_size} a page); with the pass that confirms its unfollows that is {needed:,} requests: "
        f"{paced_seconds(needed, provider) / 3600:.1f} h at min_request_interval "
        f"{provider.min_request_interval:g}s{at_budget}, about {took / 3600:.0f} h in all, longer than "
        f"sync.full_pass_interval ({sync.full_pass_interval / 3600:g} h). Raise "
        f"[providers.{provider_name}] daily_request_budget or [sync] full_pass_interval"
    )


def progress(
    pages_done: int,
    followers: int,
    first_pass: bool,
    provider: ProviderSettings,
    *,
    budget_used_up: bool = False,
) -> str:
    """Where a full pass in progress stands, and when it should end, e.g.
    "full pass 43%: 860 of about 2,000 pages; about 1 more day at the budget".

    The total is estimated from the followers stored; a source's first pass cannot know it yet.
    `budget_used_up`: the pass is paused until the next UTC day (its last run ended on the budget).
    """
    budget = provider.daily_request_budget
    if first_pass:
        pace = f"; {budget:,} pages a day at the budget" if budget else ""
        return f"first full pass: {pages_done:,} pages so far (the total is known when it ends){pace}"
    total = max(pages_done, PassSize.of(followers, provider).pages)
    left = total - pages_done
    percent = 100 * pages_done // total if total else 100
    text = f"full pass {percent}%: {pages_done:,} of about {total:,} pages"
    if left and budget and (budget_used_up or left > budget):
        days = math.ceil(left / budget)
        text += f"; about {days} more day{'s' if days != 1 else ''} at the budget"
    elif left:
        minutes = math.ceil(paced_seconds(left, provider) / 60)
        text += f"; about {minutes} more minute{'s' if minutes != 1 else ''} at the pacing"
    return text
