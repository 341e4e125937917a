"""items as the API sends them, untrusted passes, cool-downs

Revision ID: 0006
Revises: 0005

Why: the real service does not always send the fields its reference calls required. One item with
`"profile_picture_url": null` failed its page on every run, so the source never got past it; and the
provider's limits (500 provider_error) were retried at once instead of waited out (docs/api.md).

- The profile columns but `id` and `raw` may be NULL: a field the API left out, or sent null, empty
  or of the wrong type, is stored as NULL and the run counts the item in `sync_runs.items_coerced`.
- `rejected_items`: items without a usable id, kept raw with the reason.
- `sync_passes.untrusted_reason`: a pass that rejected items or was served a cached answer older than
  itself marks no one missing; `sync_runs.withheld_reason` says why a run withheld its unfollows.
- `account_cooldowns`: accounts the provider's limits stopped, and until when.

The views are unchanged, but SQLite rebuilds the profile tables to drop NOT NULL, so `v_followers`,
which reads them, is dropped first and created again as it was (migrations/frozen/views_0003.py).
"""

import sqlalchemy as sa
from alembic import op

from followersync.migrations.frozen import views_0003
from followersync.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TEXT_COLUMNS = {
    "linkedin_profiles": (
        "urn",
        "name",
        "headline",
        "profile_url",
        "profile_picture_url",
        "profile_picture_url_large",
    ),
    "instagram_profiles": ("messaging_id", "username", "name"),
}
BOOLEAN_COLUMNS = {"linkedin_profiles": (), "instagram_profiles": ("is_private", "is_verified")}


def _profile_columns(nullable: bool) -> None:
    for table in TEXT_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in TEXT_COLUMNS[table]:
                batch_op.alter_column(column, existing_type=sa.Text(), nullable=nullable)
            for column in BOOLEAN_COLUMNS[table]:
                batch_op.alter_column(column, existing_type=sa.Boolean(), nullable=nullable)


def upgrade() -> None:
    op.execute("DROP VIEW v_followers")
    _profile_columns(nullable=True)
    op.execute(views_0003.V_FOLLOWERS)

    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("items_coerced", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("withheld_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("sync_passes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("untrusted_reason", sa.Text(), nullable=True))

    op.create_table(
        "rejected_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("rejected_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_rejected_items_run_id_sync_runs")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_rejected_items_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_items")),
    )
    with op.batch_alter_table("rejected_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rejected_items_source_id_rejected_at"), ["source_id", "rejected_at"], unique=False
        )

    op.create_table(
        "account_cooldowns",
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error_type", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_cooldowns")),
    )


def downgrade() -> None:
    op.drop_table("account_cooldowns")
    with op.batch_alter_table("rejected_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rejected_items_source_id_rejected_at"))
    op.drop_table("rejected_items")
    # ALTER TABLE ... DROP COLUMN on both databases (SQLite since 3.35): a SQLite rebuild of these two
    # tables (batch mode) would DROP them, which the foreign keys of their runs and checkpoints refuse.
    op.execute("ALTER TABLE sync_passes DROP COLUMN untrusted_reason")
    op.execute("ALTER TABLE sync_runs DROP COLUMN withheld_reason")
    op.execute("ALTER TABLE sync_runs DROP COLUMN items_coerced")

    # NOT NULL again: what the API left out becomes an empty string (or false), as older versions
    # could never have stored it.
    for table, columns in TEXT_COLUMNS.items():
        for column in columns:
            op.execute(f"UPDATE {table} SET {column} = '' WHERE {column} IS NULL")
    for table, columns in BOOLEAN_COLUMNS.items():
        for column in columns:
            op.execute(
                sa.text(f"UPDATE {table} SET {column} = :no WHERE {column} IS NULL").bindparams(no=False)
            )
    op.execute("DROP VIEW v_followers")
    _profile_columns(nullable=False)
    op.execute(views_0003.V_FOLLOWERS)
