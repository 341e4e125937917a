"""The writes a page shares with the rest of a pass, written once for both page writers
(store/pages/sqlite.py, store/pages/postgresql.py) and unfollow confirmation (store/unfollows.py):

- the checkpoint of a full pass: where its next run resumes (docs/semantics.md#page-transactions);
- the run's counters, moved forward by every page;
- the day's sums of events (`daily_growth` in store/schema.py), which every event is counted in, in
  the transaction that writes it.

Text with `:name` parameters, run through the driver (`exec_driver_sql`: a page's statements skip
SQLAlchemy's per-parameter processing). sqlite3 binds `:name` itself; psycopg's spelling is
`for_psycopg`'s. Each writer gives the rows of the day's sums its own way, in `daily_growth(rows)`.
"""

from __future__ import annotations

import re

CHECKPOINT = (
    "INSERT INTO sync_checkpoints (source_id, pass_id, run_id, cursor, pages, updated_at)"
    " VALUES (:source_id, :pass_id, :run_id, :cursor, :pages, :now)"
    " ON CONFLICT (source_id) DO UPDATE SET pass_id = excluded.pass_id, run_id = excluded.run_id,"
    " cursor = excluded.cursor, pages = excluded.pages, updated_at = excluded.updated_at"
)
"""A full pass's checkpoint after a page: `cursor` (None: the listing is complete) and the pages so far."""


def run_counters(new: str = ":new") -> str:
    """The run's counters after a page of `:count` items, `:coerced` of them coerced, and `new` (SQL)
    `follow` events: followers_new counts those only, a first sync's baseline is not growth.
    `:requests` and `:retries` are the run's HTTP requests so far, NULL to keep the stored ones."""
    return (
        "UPDATE sync_runs SET pages = pages + 1, items = items + :count,"
        f" items_coerced = items_coerced + :coerced, followers_new = followers_new + {new},"
        " requests = coalesce(:requests, requests), retries = coalesce(:retries, retries)"
        " WHERE id = :run_id"
    )


def daily_growth(rows: str) -> str:
    """Add `rows` (SQL: VALUES or a SELECT of source_id, day, net, gained, lost) to the day's sums."""
    return (
        f"INSERT INTO daily_growth AS g (source_id, day, net, gained, lost) {rows}"
        " ON CONFLICT (source_id, day) DO UPDATE SET net = g.net + excluded.net,"
        " gained = g.gained + excluded.gained, lost = g.lost + excluded.lost"
    )


_NAME = re.compile(r"(?<![:\w]):(\w+)")  # `:name`, not the `::` of a cast


def for_psycopg(sql: str) -> str:
    """`sql` with its `:name` parameters spelt as psycopg binds them, `%(name)s`."""
    return _NAME.sub(r"%(\1)s", sql)
