"""the events' daily sums behind v_follower_growth_daily

Revision ID: 0005
Revises: 0004

Why: `v_follower_growth_daily` summed every event of every source before a filter could apply, so one
source's last month cost as much as the whole history of all of them (over a second at ten million
events), and a dashboard with a panel per source paid it per panel (README, "The database").

- `daily_growth`: the sums of `follow_events` per source and UTC day (net, gained, lost), filled here
  from the events already stored; from now on the statements that write events keep it.
- `v_follower_growth_daily` reads `daily_growth` (views: migrations/frozen/views_0005.py); same
  columns, same rows.
"""

import sqlalchemy as sa
from alembic import op

from followersync.migrations.frozen import views_0003, views_0005

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The sums of the events already stored, per source and UTC day, as the views before this revision
# computed them.
BACKFILL = {
    "postgresql": """
INSERT INTO daily_growth (source_id, day, net, gained, lost)
SELECT source_id,
       (occurred_at AT TIME ZONE 'UTC')::date,
       count(*) FILTER (WHERE event IN ('baseline', 'follow')) - count(*) FILTER (WHERE event = 'unfollow'),
       count(*) FILTER (WHERE event = 'follow'),
       count(*) FILTER (WHERE event = 'unfollow')
FROM follow_events
GROUP BY source_id, (occurred_at AT TIME ZONE 'UTC')::date
""",
    "sqlite": """
INSERT INTO daily_growth (source_id, day, net, gained, lost)
SELECT source_id,
       date(occurred_at),
       sum(CASE WHEN event IN ('baseline', 'follow') THEN 1 WHEN event = 'unfollow' THEN -1 ELSE 0 END),
       sum(CASE WHEN event = 'follow' THEN 1 ELSE 0 END),
       sum(CASE WHEN event = 'unfollow' THEN 1 ELSE 0 END)
FROM follow_events
GROUP BY source_id, date(occurred_at)
""",
}


def _dialect() -> str:
    return "postgresql" if op.get_bind().dialect.name == "postgresql" else "sqlite"


def upgrade() -> None:
    op.create_table(
        "daily_growth",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("net", sa.Integer(), nullable=False),
        sa.Column("gained", sa.Integer(), nullable=False),
        sa.Column("lost", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_daily_growth_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("source_id", "day", name=op.f("pk_daily_growth")),
    )
    op.execute(BACKFILL[_dialect()])
    op.execute("DROP VIEW v_follower_growth_daily")
    op.execute(views_0005.growth_view(_dialect()))


def downgrade() -> None:
    op.execute("DROP VIEW v_follower_growth_daily")
    op.execute(views_0003.V_FOLLOWER_GROWTH_DAILY[_dialect()])
    op.drop_table("daily_growth")
