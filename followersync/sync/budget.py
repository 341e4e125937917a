"""The daily request budget of each linked account, counted in the database all workers share."""

from __future__ import annotations

import sqlalchemy as sa

from followersync.clock import Clock
from followersync.config import Settings, SourceConfig
from followersync.domain import ErrorType, FollowersyncError
from followersync.store import limits


class BudgetExhausted(FollowersyncError):
    """The account's daily request budget is used up (for this UTC day)."""

    error_type = ErrorType.BUDGET_EXHAUSTED


class BudgetGate:
    """Counts every request against its account's daily budget, in the database shared by all workers."""

    def __init__(self, database: sa.Engine, settings: Settings, clock: Clock) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock

    def __call__(self, source: SourceConfig) -> None:
        budget = self._settings.provider(source.provider).daily_request_budget
        if budget == 0:
            return
        with self._database.begin() as conn:
            allowed = limits.consume_budget(conn, source.account_id, self._clock.now(), budget)
        if not allowed:
            raise BudgetExhausted(
                f"daily request budget of {budget} for account {source.account_id} is used up "
                "for this UTC day"
            )
