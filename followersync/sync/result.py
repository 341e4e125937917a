"""How one source's run ended: what the summary prints and the exit code reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from followersync.domain import PassMode, RunStatus


@dataclass
class SourceResult:
    """How one source's run ended, for the command's summary and exit code."""

    source: str
    # How the run ended; "skipped": no run at all (another process holds the account, or a stop came first).
    status: RunStatus | Literal["skipped"]
    run_id: int | None = None
    mode: PassMode | None = None
    pages: int = 0
    items: int = 0  # items on the pages, a follower re-read after the listing shifted included
    coerced: int = 0  # items stored with a field the API left out or sent unusable (now NULL)
    rejected: int = 0  # items that could not be stored (no usable id), kept in `rejected_items`
    listed: int = 0  # distinct followers this run listed (as far as `_Distinct` can tell)
    # The source's followers after the run (active, the missing included): what the account has, not
    # what this run saw (an incremental pass lists a page or two). None when it could not be read.
    followers: int | None = None
    resumed: bool = False  # the run continued a pass an earlier run began (from its checkpoint)
    new: int = 0  # `follow` events: new followers since the baseline, and comebacks
    baseline: int = 0  # followers recorded before the source's first complete pass
    missing: int = 0  # newly missing: not listed by this complete pass (not unfollows yet)
    lost: int = 0  # unfollows this run confirmed
    unfollows_withheld: int = 0
    withheld_reason: str | None = None
    accepted: bool = False  # --accept-unfollows: the newly missing were unfollowed at once
    requests: int = 0
    error_type: str | None = None
    message: str | None = None
    # The account itself stopped this run (credentials, restriction, its rate limit or daily budget):
    # its other sources are not called again in this run.
    account_stopped: bool = False
