"""initial schema: sources, profiles, followers, events, passes, runs, checkpoints, leases, budget, views

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from followersync.migrations.frozen.views_0001 import create_view_statements
from followersync.store.types import RawJSON, UTCDateTime, json_column_type

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

VIEW_NAMES_REVERSED = ("v_follower_growth_daily", "v_follow_events", "v_followers")


def upgrade() -> None:
    op.create_table(
        "account_leases",
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_leases")),
    )
    op.create_table(
        "instagram_profiles",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("messaging_id", sa.Text(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("profile_picture_url", sa.Text(), nullable=True),
        sa.Column("is_private", sa.Boolean(), nullable=False),
        sa.Column("is_verified", sa.Boolean(), nullable=False),
        sa.Column("raw", RawJSON(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instagram_profiles")),
    )
    op.create_table(
        "linkedin_profiles",
        sa.Column("id", sa.String(length=512), nullable=False),
        sa.Column("urn", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("profile_url", sa.Text(), nullable=False),
        sa.Column("profile_picture_url", sa.Text(), nullable=False),
        sa.Column("profile_picture_url_large", sa.Text(), nullable=False),
        sa.Column("raw", RawJSON(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkedin_profiles")),
    )
    op.create_table(
        "request_budget",
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_request_budget")),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("provider IN ('linkedin', 'instagram')", name=op.f("ck_sources_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("name", name=op.f("uq_sources_name")),
    )
    op.create_table(
        "followers",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("follower_id", sa.String(length=512), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_pass_id", sa.Integer(), nullable=True),
        sa.Column("unfollowed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_followers_source_id_sources")),
        sa.PrimaryKeyConstraint("source_id", "follower_id", name=op.f("pk_followers")),
    )
    with op.batch_alter_table("followers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_followers_source_id_unfollowed_at"), ["source_id", "unfollowed_at"], unique=False
        )

    op.create_table(
        "sync_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_sync_passes_mode")),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_sync_passes_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_passes")),
    )
    with op.batch_alter_table("sync_passes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_passes_source_id_mode_completed_at"),
            ["source_id", "mode", "completed_at"],
            unique=False,
        )

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("items", sa.Integer(), server_default="0", nullable=False),
        sa.Column("followers_new", sa.Integer(), server_default="0", nullable=False),
        sa.Column("followers_lost", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unfollows_withheld", sa.Integer(), server_default="0", nullable=False),
        sa.Column("requests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_type", sa.String(length=200), nullable=True),
        sa.Column("error_detail", json_column_type(), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_sync_runs_mode")),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'deferred', 'failed', 'abandoned')",
            name=op.f("ck_sync_runs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["sync_passes.id"], name=op.f("fk_sync_runs_pass_id_sync_passes")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_sync_runs_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_runs_source_id_started_at"), ["source_id", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sync_runs_status"), ["status"], unique=False)

    op.create_table(
        "follow_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("follower_id", sa.String(length=512), nullable=False),
        sa.Column("event", sa.String(length=10), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "event IN ('baseline', 'follow', 'unfollow')", name=op.f("ck_follow_events_event")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["sync_runs.id"], name=op.f("fk_follow_events_run_id_sync_runs")),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_follow_events_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_events")),
    )
    with op.batch_alter_table("follow_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_follow_events_source_id_occurred_at"), ["source_id", "occurred_at"], unique=False
        )

    op.create_table(
        "sync_checkpoints",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["sync_passes.id"], name=op.f("fk_sync_checkpoints_pass_id_sync_passes")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_sync_checkpoints_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_sync_checkpoints_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_sync_checkpoints")),
    )

    for statement in create_view_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for view in VIEW_NAMES_REVERSED:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("sync_checkpoints")
    with op.batch_alter_table("follow_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_events_source_id_occurred_at"))

    op.drop_table("follow_events")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_status"))
        batch_op.drop_index(batch_op.f("ix_sync_runs_source_id_started_at"))

    op.drop_table("sync_runs")
    with op.batch_alter_table("sync_passes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_passes_source_id_mode_completed_at"))

    op.drop_table("sync_passes")
    with op.batch_alter_table("followers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_followers_source_id_unfollowed_at"))

    op.drop_table("followers")
    op.drop_table("sources")
    op.drop_table("request_budget")
    op.drop_table("linkedin_profiles")
    op.drop_table("instagram_profiles")
    op.drop_table("account_leases")
