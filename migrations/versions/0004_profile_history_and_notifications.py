"""profile history and notifications

Revision ID: 0004
Revises: 0003

Why: a follower's rename or new headline was silently overwritten, and nothing told the user's own
systems who came and who left (README, "Profile history" and "Notifications").

- `profile_changes`: one row per changed tracked field, written with the page that brought the new
  value; empty after the upgrade (the history starts with the next sync).
- `notification_outbox`: the payloads for the `[[notify]]` hooks, kept until delivered or given up.
- `ix_follow_events_unfollows_by_run`: a run's confirmed unfollows, for its notifications (only the
  unfollow events are in it: the pages' baseline and follow events maintain nothing more).
- `sync_runs.notified_at`: when a run's notifications went into the outbox. Every run before the
  upgrade counts as notified (set to when it ended), so adding a hook never replays old history.
- `v_profile_changes` (views: migrations/frozen/views_0004.py).
"""

import sqlalchemy as sa
from alembic import op

from followersync.migrations.frozen import views_0004
from followersync.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PENDING = sa.text("delivered_at IS NULL AND given_up_at IS NULL")
UNFOLLOWS = sa.text("event = 'unfollow'")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "profile_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("follower_id", sa.String(length=512), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("provider IN ('linkedin', 'instagram')", name=op.f("ck_profile_changes_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_changes")),
    )
    op.create_index(
        op.f("ix_profile_changes_provider_follower_id"), "profile_changes", ["provider", "follower_id"]
    )
    op.create_index(op.f("ix_profile_changes_changed_at"), "profile_changes", ["changed_at"])
    op.create_index(op.f("ix_profile_changes_run_id"), "profile_changes", ["run_id"])
    op.create_table(
        "notification_outbox",
        sa.Column("seq", BigId, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("hook", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("given_up_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_notification_outbox_source_id_sources")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_notification_outbox_run_id_sync_runs")
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_notification_outbox_id")),
    )
    op.create_index(
        "ix_notification_outbox_pending",
        "notification_outbox",
        ["next_attempt_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )
    op.create_index(
        op.f("ix_notification_outbox_source_id_created_at"),
        "notification_outbox",
        ["source_id", "created_at"],
    )
    op.create_index(
        "ix_follow_events_unfollows_by_run",
        "follow_events",
        ["run_id"],
        postgresql_where=UNFOLLOWS,
        sqlite_where=UNFOLLOWS,
    )
    # A new nullable column: no table rebuild on SQLite, so the views that use sync_runs stay.
    op.add_column("sync_runs", sa.Column("notified_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE sync_runs SET notified_at = COALESCE(finished_at, started_at)")
    op.execute(views_0004.V_PROFILE_CHANGES)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_profile_changes")
    op.drop_index("ix_follow_events_unfollows_by_run", table_name="follow_events")
    op.drop_index(op.f("ix_notification_outbox_source_id_created_at"), table_name="notification_outbox")
    op.drop_index("ix_notification_outbox_pending", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    # SQLite rebuilds sync_runs to drop a column; no view reads sync_runs.
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("notified_at")
    op.drop_index(op.f("ix_profile_changes_run_id"), table_name="profile_changes")
    op.drop_index(op.f("ix_profile_changes_changed_at"), table_name="profile_changes")
    op.drop_index(op.f("ix_profile_changes_provider_follower_id"), table_name="profile_changes")
    op.drop_table("profile_changes")
