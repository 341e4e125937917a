"""Statements written once, as SQL text, for both databases and both drivers.

`followersync status` on a SQLite file reads through the sqlite3 driver alone, because importing
SQLAlchemy takes longer than all the rest of the command (bench/RESULTS.md, "start-up"); everywhere
else these statements run through SQLAlchemy (`dialects.text`), on SQLite and PostgreSQL. So this
module imports no SQLAlchemy, and each statement says what either driver needs to know to run it:

- parameters are `:name`, which sqlite3 and `sa.text` both bind; a list is `IN :name`, expanded
  into one parameter per value (`lists`); `text_params` are text, the others (lists) integers;
- `time_params` and `time_columns` are UTC times: aware datetimes in Python, naive UTC text in a
  SQLite file (store/types.py, `UTCDateTime`), `timestamptz` on PostgreSQL;
- `json_columns` hold JSON (store/types.py, `json_column_type`), decoded when read.

Only what is genuinely spelled differently per dialect is written per dialect (`VERSION_TABLE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from followersync.status import GIVEN_UP_SHOWN_DAYS, RECENT_DAYS


@dataclass(frozen=True)
class Statement:
    sql: str
    lists: tuple[str, ...] = ()  # parameters bound as lists: `IN :name`
    text_params: tuple[str, ...] = ()  # of text (an empty list needs its type on PostgreSQL)
    time_params: tuple[str, ...] = ()
    time_columns: tuple[str, ...] = ()
    json_columns: tuple[str, ...] = ()


# --- the schema's revision (docs/semantics.md#first-start) -----------------------------------------

VERSION_TABLE = {
    "sqlite": Statement(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ),
    "postgresql": Statement("SELECT (to_regclass('alembic_version') IS NOT NULL)::int"),
}
"""One row, one value: 1 if the database has alembic's version table (where the search path finds
it), else 0."""

REVISION = Statement("SELECT version_num FROM alembic_version")


# --- runs and sources ----------------------------------------------------------------------------

MARK_ABANDONED_RUNS = Statement(
    """
UPDATE sync_runs SET status = 'abandoned', finished_at = :now
WHERE sync_runs.status = 'running' AND NOT EXISTS (
    SELECT account_leases.account_id
    FROM account_leases JOIN sources ON sources.account_id = account_leases.account_id
    WHERE sources.id = sync_runs.source_id
      AND account_leases.holder = sync_runs.holder
      AND account_leases.expires_at >= :now
)
""",
    time_params=("now",),
)
"""Runs left `running` by a process that no longer holds its account's lease are `abandoned`
(docs/semantics.md#one-syncer-per-account)."""

SOURCE_IDS = Statement(
    "SELECT sources.name, sources.id FROM sources WHERE sources.name IN :names",
    lists=("names",),
    text_params=("names",),
)
"""Name, id of the sources the database knows among `names`."""

# When the source's last complete full pass finished (NULL: it never had one), correlated to `sources`.
_LAST_FULL_COMPLETION = """(
    SELECT max(sync_passes.completed_at) FROM sync_passes
    WHERE sync_passes.source_id = sources.id AND sync_passes.mode = 'full'
)"""

LAST_FULL_PASSES = Statement(
    f"SELECT sources.id, {_LAST_FULL_COMPLETION} AS last_full_pass_at FROM sources WHERE sources.id IN :ids",
    lists=("ids",),
    time_columns=("last_full_pass_at",),
)
"""Id and last complete full pass of the sources among `ids`."""


# --- status --------------------------------------------------------------------------------------

_NEWEST_FULL_RUN = """(SELECT max(r.id) FROM sync_runs AS r
    WHERE r.source_id = sources.id AND r.mode = 'full' AND r.status = 'succeeded')"""

STATUS = Statement(
    f"""
SELECT
    sources.id, sources.name, sources.provider, sources.account_id, sources.user_id,
    (SELECT count(*) FROM followers
     WHERE followers.source_id = sources.id AND followers.unfollowed_at IS NULL) AS followers,
    (SELECT count(*) FROM followers
     WHERE followers.source_id = sources.id AND followers.missing_since IS NOT NULL) AS missing,
    (SELECT min(followers.missing_since) FROM followers
     WHERE followers.source_id = sources.id AND followers.missing_since IS NOT NULL) AS missing_since,
    (SELECT count(*) FROM follow_events
     WHERE follow_events.source_id = sources.id AND follow_events.event = 'follow'
       AND follow_events.occurred_at >= :recent) AS gained_7d,
    (SELECT count(*) FROM follow_events
     WHERE follow_events.source_id = sources.id AND follow_events.event = 'unfollow'
       AND follow_events.occurred_at >= :recent) AS lost_7d,
    {_LAST_FULL_COMPLETION} AS last_full_pass_at,
    (SELECT count(*) FROM sync_runs AS failed
     WHERE failed.source_id = sources.id AND failed.status = 'failed'
       AND failed.id > coalesce(
           (SELECT max(r.id) FROM sync_runs AS r WHERE r.source_id = sources.id AND r.status != 'failed'),
           0)) AS failed_streak,
    (SELECT full_run.unfollows_withheld FROM sync_runs AS full_run
     WHERE full_run.id = {_NEWEST_FULL_RUN}) AS unfollows_withheld,
    (SELECT full_run.withheld_reason FROM sync_runs AS full_run
     WHERE full_run.id = {_NEWEST_FULL_RUN}) AS withheld_reason,
    last_run.id AS run_id, last_run.mode AS run_mode, last_run.status AS run_status,
    last_run.started_at AS run_started_at, last_run.finished_at AS run_finished_at,
    last_run.error_type AS run_error_type, last_run.error_detail AS run_error_detail,
    sync_checkpoints.pages AS checkpoint_pages, sync_checkpoints.updated_at AS checkpoint_updated_at,
    account_leases.holder AS lease_holder, account_leases.expires_at AS lease_expires_at,
    account_cooldowns.until AS resting_until, account_cooldowns.error_type AS resting_after
FROM sources
LEFT OUTER JOIN sync_runs AS last_run
    ON last_run.id = (SELECT max(r.id) FROM sync_runs AS r WHERE r.source_id = sources.id)
LEFT OUTER JOIN sync_checkpoints ON sync_checkpoints.source_id = sources.id
LEFT OUTER JOIN account_leases
    ON account_leases.account_id = sources.account_id AND account_leases.expires_at >= :now
LEFT OUTER JOIN account_cooldowns
    ON account_cooldowns.account_id = sources.account_id AND account_cooldowns.until > :now
WHERE sources.id IN :ids
""",
    lists=("ids",),
    time_params=("now", "recent"),
    time_columns=(
        "missing_since",
        "last_full_pass_at",
        "run_started_at",
        "run_finished_at",
        "checkpoint_updated_at",
        "lease_expires_at",
        "resting_until",
    ),
    json_columns=("run_error_detail",),
)
"""One row per source among `ids`, each figure a subquery on the source's id: the columns
`status.source_status` reads."""

PENDING_PAYLOADS = Statement(
    """
SELECT source_id, hook, given_up_at, last_error FROM notification_outbox
WHERE source_id IN :ids AND delivered_at IS NULL
  AND (given_up_at IS NULL OR given_up_at >= :recent)
ORDER BY seq
""",
    lists=("ids",),
    time_params=("recent",),
)
"""Each source's payloads not delivered, still tried or given up recently, in the order they were
written: the rows `status.payloads_by_source` counts."""


def status_params(source_ids: Sequence[int], now: datetime) -> dict[str, Any]:
    """The parameters of STATUS."""
    return {"ids": list(source_ids), "now": now, "recent": now - timedelta(days=RECENT_DAYS)}


def payload_params(source_ids: Sequence[int], now: datetime) -> dict[str, Any]:
    """The parameters of PENDING_PAYLOADS."""
    return {"ids": list(source_ids), "recent": now - timedelta(days=GIVEN_UP_SHOWN_DAYS)}
