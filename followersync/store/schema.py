"""The tables, in SQLAlchemy Core: the one source of truth that the migrations are checked against.

Layout (the README's "The database" names the public relations; the views live in `views.py`):

    sources ─┬─ followers (one row per source and follower: first/last seen, missing_since, unfollowed_at)
             ├─ follow_events (baseline / follow / unfollow)
             ├─ daily_growth (the events' sums per UTC day, for v_follower_growth_daily)
             ├─ sync_passes (a pass from the first page to `cursor: null`, possibly over several runs)
             ├─ sync_runs (one invocation's work on a source)
             └─ sync_checkpoints (the cursor of a full pass in progress)
    linkedin_profiles, instagram_profiles (one row per provider profile, with the last raw item)
      └─ profile_changes (a tracked field's old and new value, when, in which run)
    notification_outbox (payloads for the `[[notify]]` hooks, kept until delivered or given up)
    rejected_items (items the API sent without a usable id, kept raw)
    account_leases (one syncer per linked account), request_budget (daily requests per account),
    account_cooldowns (accounts the provider's limits stopped, until when)
"""

from __future__ import annotations

import sqlalchemy as sa

from followersync.domain import EVENTS, PASS_MODES, PROVIDERS, RUN_STATUSES, sql_in
from followersync.store.types import RawJSON, UTCDateTime, json_column_type

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid for INTEGER PRIMARY KEY, so big ids are BIGINT elsewhere.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("account_id", sa.String(255), nullable=False),
    sa.Column("user_id", sa.String(255)),
    # A source removed from the configuration is disabled, never deleted: its history stays.
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(sql_in("provider", tuple(PROVIDERS)), name="provider"),
)

# Only `id` and `raw` are sure: the API does not always send the fields its reference calls required,
# and a field it sent null, empty or of the wrong type is NULL here (docs/api.md#what-followersync-tolerates).
linkedin_profiles = sa.Table(
    "linkedin_profiles",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("urn", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("headline", sa.Text),
    sa.Column("profile_url", sa.Text),
    sa.Column("profile_picture_url", sa.Text),
    sa.Column("profile_picture_url_large", sa.Text),
    sa.Column("raw", RawJSON, nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

instagram_profiles = sa.Table(
    "instagram_profiles",
    metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("messaging_id", sa.Text),
    sa.Column("username", sa.Text),
    sa.Column("name", sa.Text),
    sa.Column("profile_picture_url", sa.Text),
    sa.Column("is_private", sa.Boolean),
    sa.Column("is_verified", sa.Boolean),
    sa.Column("raw", RawJSON, nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

sync_passes = sa.Table(
    "sync_passes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("mode", sa.String(12), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    # Set when the pass reached `cursor: null` (full) or stopped early by design (incremental).
    sa.Column("completed_at", UTCDateTime),
    # Why the pass's listing is no evidence of absence (items rejected, an answer older than the pass):
    # its completion then marks no one missing and confirms no unfollow. NULL: trusted.
    sa.Column("untrusted_reason", sa.Text),
    sa.CheckConstraint(sql_in("mode", PASS_MODES), name="mode"),
    sa.Index(None, "source_id", "mode", "completed_at"),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("pass_id", sa.Integer, sa.ForeignKey("sync_passes.id")),
    sa.Column("mode", sa.String(12), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
    sa.Column("items", sa.Integer, nullable=False, server_default="0"),
    # Items stored with a field the API left out or sent null, empty or of the wrong type (now NULL).
    sa.Column("items_coerced", sa.Integer, nullable=False, server_default="0"),
    sa.Column("followers_new", sa.Integer, nullable=False, server_default="0"),
    # Newly missing in this run's pass (not listed by it, not missing before); `followers_lost`
    # counts the unfollows this run confirmed.
    sa.Column("followers_missing", sa.Integer, nullable=False, server_default="0"),
    sa.Column("followers_lost", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unfollows_withheld", sa.Integer, nullable=False, server_default="0"),
    # Why this run's complete pass withheld its unfollows (the guards, or an untrusted listing).
    sa.Column("withheld_reason", sa.Text),
    sa.Column("requests", sa.Integer, nullable=False, server_default="0"),
    sa.Column("retries", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error_type", sa.String(200)),
    sa.Column("error_detail", json_column_type()),
    # Which process ran it: a `running` run whose holder no longer holds the account's lease is dead.
    sa.Column("holder", sa.String(200), nullable=False),
    # When the run's notifications were written to the outbox (in the transaction that ended the
    # run); NULL for a run still going, or one that died before: the next run of its source writes
    # them (notify/outbox.py).
    sa.Column("notified_at", UTCDateTime),
    sa.CheckConstraint(sql_in("status", RUN_STATUSES), name="status"),
    sa.CheckConstraint(sql_in("mode", PASS_MODES), name="mode"),
    sa.Index(None, "source_id", "started_at"),
    sa.Index(None, "status"),
)

sync_checkpoints = sa.Table(
    "sync_checkpoints",
    metadata,
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), primary_key=True),
    sa.Column("pass_id", sa.Integer, sa.ForeignKey("sync_passes.id"), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False),
    # NULL once the last page is saved: the listing is complete and only unfollow marking remains.
    sa.Column("cursor", sa.Text),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# `followers` and `follow_events` hold a row per follower and have no foreign keys: a check per row
# was about 30% of a first pass on PostgreSQL, and only followersync writes them, inside a run of an
# existing source, never deleting sources or runs (migration 0002 says more). On PostgreSQL every
# full pass updates every `followers` row, so its pages are filled to 50% (also in 0002): the updates
# stay on their page and add no index entries.
followers = sa.Table(
    "followers",
    metadata,
    sa.Column("source_id", sa.Integer, primary_key=True),
    sa.Column("follower_id", sa.String(512), primary_key=True),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    # The last full pass that listed this follower; unfollow marking looks for the active ones it missed.
    sa.Column("last_seen_pass_id", sa.Integer),
    # Unfollows are confirmed, not guessed (store/unfollows.py): a complete full pass that did not
    # list an active follower sets `missing_since` (when that pass completed) and counts the
    # consecutive passes that missed them; a page that lists them again clears both. Only active
    # followers are ever missing: confirming the unfollow clears them too.
    sa.Column("missing_since", UTCDateTime),
    sa.Column("missed_passes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("unfollowed_at", UTCDateTime),
    sa.Index(None, "source_id", "unfollowed_at"),
    # Only the missing rows: a pass that lists everyone maintains nothing in it.
    sa.Index(
        "ix_followers_missing",
        "source_id",
        postgresql_where=sa.text("missing_since IS NOT NULL"),
        sqlite_where=sa.text("missing_since IS NOT NULL"),
    ),
)

follow_events = sa.Table(
    "follow_events",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("source_id", sa.Integer, nullable=False),
    sa.Column("follower_id", sa.String(512), nullable=False),
    sa.Column("event", sa.String(10), nullable=False),
    sa.Column("occurred_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.CheckConstraint(sql_in("event", EVENTS), name="event"),
    sa.Index(None, "source_id", "occurred_at"),
    # A run's confirmed unfollows, for its notifications: they are dated when first missed, so the
    # index above cannot find them by time. Only unfollow events are in it, so the pages' baseline
    # and follow events maintain nothing more.
    sa.Index(
        "ix_follow_events_unfollows_by_run",
        "run_id",
        postgresql_where=sa.text("event = 'unfollow'"),
        sqlite_where=sa.text("event = 'unfollow'"),
    ),
)

# The events' sums per source and UTC day, written by the same statements and transactions as the
# events themselves (the page writers and unfollow confirmation), so that `v_follower_growth_daily`
# reads a row per day instead of every event of every source (README, "The database"). `net` is the
# day's baseline and follow events minus its unfollow events, `gained` its follow events, `lost` its
# unfollow events. A day without events has no row.
daily_growth = sa.Table(
    "daily_growth",
    metadata,
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("net", sa.Integer, nullable=False),
    sa.Column("gained", sa.Integer, nullable=False),
    sa.Column("lost", sa.Integer, nullable=False),
)

account_leases = sa.Table(
    "account_leases",
    metadata,
    sa.Column("account_id", sa.String(255), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

request_budget = sa.Table(
    "request_budget",
    metadata,
    sa.Column("account_id", sa.String(255), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),  # UTC day
    sa.Column("requests", sa.Integer, nullable=False),
)

# A tracked field's change (domain.TRACKED_FIELDS), written by the page that brought the new value.
# A profile is shared by every source it follows: its history is the provider's, not a source's.
profile_changes = sa.Table(
    "profile_changes",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("follower_id", sa.String(512), nullable=False),
    sa.Column("field", sa.String(40), nullable=False),
    # Text as the API sent it; booleans as `true` / `false`.
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.CheckConstraint(sql_in("provider", tuple(PROVIDERS)), name="provider"),
    sa.Index(None, "provider", "follower_id"),
    sa.Index(None, "changed_at"),
    sa.Index(None, "run_id"),
)

# One row per payload and hook. The body is kept exactly as first written: a retry sends the same
# bytes with the same id. The hook is stored by name only, never its URL (it may carry credentials).
notification_outbox = sa.Table(
    "notification_outbox",
    metadata,
    # Delivery order: a hook gets its payloads in the order they were written (a run's parts too).
    sa.Column("seq", BigId, primary_key=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),  # the payload's `id`
    sa.Column("hook", sa.String(200), nullable=False),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id")),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id")),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("delivered_at", UTCDateTime),
    sa.Column("given_up_at", UTCDateTime),
    # Only the payloads still to deliver: the table grows with history, the index does not.
    sa.Index(
        "ix_notification_outbox_pending",
        "next_attempt_at",
        postgresql_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL AND given_up_at IS NULL"),
    ),
    sa.Index(None, "source_id", "created_at"),
)

# Items the API sent that could not be stored (no usable id), kept raw with the reason, so that a
# pass goes on and a person can look at what was dropped (docs/api.md#what-followersync-tolerates).
rejected_items = sa.Table(
    "rejected_items",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("source_id", sa.Integer, sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("sync_runs.id"), nullable=False),
    sa.Column("page", sa.Integer, nullable=False),  # the page's number in its pass, from 1
    sa.Column("position", sa.Integer, nullable=False),  # the item's index on that page, from 0
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False),  # the item's JSON text as the API sent it
    sa.Column("rejected_at", UTCDateTime, nullable=False),
    sa.Index(None, "source_id", "rejected_at"),
)

# A linked account that the provider's limits stopped (500 provider_error, a 429 without Retry-After):
# no request until `until`. `seconds` is the last cool-down, doubled on a repeat; the row goes once a
# run of the account gets a page again (docs/semantics.md#rate-limits-and-budget).
account_cooldowns = sa.Table(
    "account_cooldowns",
    metadata,
    sa.Column("account_id", sa.String(255), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("error_type", sa.String(200), nullable=False),
)

PROFILE_TABLES = {"linkedin": linkedin_profiles, "instagram": instagram_profiles}
