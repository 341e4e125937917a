"""unfollows are confirmed: followers a complete pass did not list are first `missing`

Revision ID: 0003
Revises: 0002

Why: the listing is offset-paged, so a follower who leaves while a pass runs makes the pass skip
someone who never left, and real listings drop a follower now and then. A complete full pass now marks
the active followers it did not list as missing (`followers.missing_since`, and `missed_passes` counts
the consecutive complete full passes that missed them); only `sync.unfollow_confirmations` of them in
a row make an unfollow (docs/unfollows.md).

- `followers.missing_since`, `followers.missed_passes`: NULL and 0 for every existing row. Nobody is
  missing after the upgrade; followers already unfollowed stay unfollowed, with their events.
- `sync_runs.followers_missing`: 0 for the runs before (they marked nobody missing).
- a partial index of the missing followers per source: `status` and the scheduler count them often,
  and the index holds only the few missing rows (a row with NULL is never in it, so a pass that
  lists everyone maintains nothing).
- `v_followers` gains `missing_since` (views: migrations/frozen/views_0003.py).
- `sync_runs.error_detail` of a run without error is SQL NULL, no longer the JSON text `null` that
  earlier versions wrote (on SQLite and PostgreSQL alike), so `WHERE error_detail IS NULL` finds them.
"""

import sqlalchemy as sa
from alembic import op

from followersync.migrations.frozen import views_0001, views_0003
from followersync.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VIEW_NAMES_REVERSED = ("v_follower_growth_daily", "v_follow_events", "v_followers")
MISSING = sa.text("missing_since IS NOT NULL")


def _drop_views() -> None:
    # SQLite rebuilds a table to drop a column, and a rename over a table that views use fails.
    for view in VIEW_NAMES_REVERSED:
        op.execute(f"DROP VIEW IF EXISTS {view}")


def upgrade() -> None:
    _drop_views()
    with op.batch_alter_table("followers") as batch_op:
        batch_op.add_column(sa.Column("missing_since", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("missed_passes", sa.Integer(), server_default="0", nullable=False))
    op.create_index(
        "ix_followers_missing",
        "followers",
        ["source_id"],
        postgresql_where=MISSING,
        sqlite_where=MISSING,
    )
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.add_column(sa.Column("followers_missing", sa.Integer(), server_default="0", nullable=False))
    dialect = op.get_bind().dialect.name
    json_null = "'null'::jsonb" if dialect == "postgresql" else "'null'"
    op.execute(f"UPDATE sync_runs SET error_detail = NULL WHERE error_detail = {json_null}")
    for statement in views_0003.create_view_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    _drop_views()
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("followers_missing")
    op.drop_index("ix_followers_missing", table_name="followers")
    with op.batch_alter_table("followers") as batch_op:
        batch_op.drop_column("missed_passes")
        batch_op.drop_column("missing_since")
    for statement in views_0001.create_view_statements(op.get_bind().dialect.name):
        op.execute(statement)
