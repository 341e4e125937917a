"""The views as revision 0005 left them. Frozen: never edit this file (`views_0001` says why).

0005 rewrites `v_follower_growth_daily` over the events' daily sums (`daily_growth`); the other three
views are those of 0004.
"""

from __future__ import annotations

from followersync.migrations.frozen import views_0004

V_FOLLOWER_GROWTH_DAILY = {
    "postgresql": """
CREATE VIEW v_follower_growth_daily AS
SELECT s.name AS source,
       d.day::date AS day,
       (sum(COALESCE(g.net, 0)) OVER (PARTITION BY s.name ORDER BY d.day))::bigint AS followers,
       COALESCE(g.gained, 0)::bigint AS gained,
       COALESCE(g.lost, 0)::bigint AS lost
FROM sources s
CROSS JOIN LATERAL (SELECT min(day) AS first_day FROM daily_growth WHERE source_id = s.id) f
CROSS JOIN LATERAL generate_series(
    f.first_day::timestamp,
    GREATEST(f.first_day, (now() AT TIME ZONE 'UTC')::date)::timestamp,
    interval '1 day'
) AS d(day)
LEFT JOIN daily_growth g ON g.source_id = s.id AND g.day = d.day::date
""",
    "sqlite": """
CREATE VIEW v_follower_growth_daily AS
WITH RECURSIVE calendar(day) AS (
    SELECT min(day) FROM daily_growth
    UNION ALL
    SELECT date(day, '+1 day') FROM calendar WHERE day < date('now')
)
SELECT s.name AS source,
       c.day AS day,
       sum(COALESCE(g.net, 0)) OVER (PARTITION BY s.name ORDER BY c.day) AS followers,
       COALESCE(g.gained, 0) AS gained,
       COALESCE(g.lost, 0) AS lost
FROM sources s
JOIN calendar c ON c.day >= (SELECT min(day) FROM daily_growth WHERE source_id = s.id)
LEFT JOIN daily_growth g ON g.source_id = s.id AND g.day = c.day
""",
}


def growth_view(dialect: str) -> str:
    """The CREATE VIEW of `v_follower_growth_daily` at revision 0005 for `dialect`."""
    return V_FOLLOWER_GROWTH_DAILY["postgresql" if dialect == "postgresql" else "sqlite"]


def create_view_statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements of revision 0005 for `dialect`, in creation order."""
    return [
        growth_view(dialect) if statement.startswith("\nCREATE VIEW v_follower_growth_daily ") else statement
        for statement in views_0004.create_view_statements(dialect)
    ]
