"""the write path of followers and events: no per-row foreign-key checks, room for in-place updates

Revision ID: 0002
Revises: 0001

Why (bench/RESULTS.md has the figures):
- `followers` and `follow_events` get one row per follower, and every row paid a foreign-key check
  (a lookup and a row lock on `sources` or `sync_runs`): three checks per new follower, about 30% of a
  first pass on PostgreSQL. Those rows are written only by the page writer and the unfollow marking,
  inside the transaction of a run that exists, for a source that exists; followersync never deletes
  a source or a run (a source removed from the configuration is disabled). The tables that hold one
  row per source or run keep their foreign keys.
- PostgreSQL: every full pass updates every row of `followers` (its last-seen time and pass). With
  pages filled to 50%, those updates find room on their own page and stay "heap-only" (no new index
  entries, a third of the WAL), and the indexes do not grow with each pass. Pages written before this
  migration keep their fill until the table is rewritten (VACUUM FULL); new rows get the room.
"""

from alembic import op

from followersync.migrations.frozen.views_0001 import create_view_statements

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

VIEW_NAMES_REVERSED = ("v_follower_growth_daily", "v_follow_events", "v_followers")
FOREIGN_KEYS = (
    ("followers", "fk_followers_source_id_sources", "source_id", "sources"),
    ("follow_events", "fk_follow_events_source_id_sources", "source_id", "sources"),
    ("follow_events", "fk_follow_events_run_id_sync_runs", "run_id", "sync_runs"),
)


def _recreating_tables(dialect: str) -> bool:
    # SQLite cannot drop a constraint: batch mode rebuilds the table, and a rename over a table that
    # views refer to fails, so the views are dropped first and created again after.
    return dialect == "sqlite"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if _recreating_tables(dialect):
        for view in VIEW_NAMES_REVERSED:
            op.execute(f"DROP VIEW IF EXISTS {view}")
    for table, name, _column, _referred in FOREIGN_KEYS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(name, type_="foreignkey")
    if dialect == "postgresql":
        op.execute("ALTER TABLE followers SET (fillfactor = 50)")
    if _recreating_tables(dialect):
        for statement in create_view_statements(dialect):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE followers RESET (fillfactor)")
    if _recreating_tables(dialect):
        for view in VIEW_NAMES_REVERSED:
            op.execute(f"DROP VIEW IF EXISTS {view}")
    for table, name, column, referred in FOREIGN_KEYS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(name, referred, [column], ["id"])
    if _recreating_tables(dialect):
        for statement in create_view_statements(dialect):
            op.execute(statement)
