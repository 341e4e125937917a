"""The public SQL views of the README's "The database", as SQL text per dialect.

Migrations import nothing from here: each revision that changes a view carries its own frozen copy
(`migrations/frozen/`). This module is what the current schema should look like; a test
checks that the newest revision creates exactly these views. To change a view, edit it here and
write a revision with a new frozen module holding the same text.
"""

from __future__ import annotations

V_FOLLOWERS = """
CREATE VIEW v_followers AS
SELECT s.name AS source,
       s.provider AS provider,
       f.follower_id AS follower_id,
       COALESCE(li.name, ig.name) AS name,
       CASE WHEN s.provider = 'instagram' THEN ig.username ELSE li.profile_url END AS handle,
       f.first_seen_at AS first_seen_at,
       f.last_seen_at AS last_seen_at,
       f.missing_since AS missing_since,
       f.unfollowed_at AS unfollowed_at,
       (f.unfollowed_at IS NULL) AS is_active
FROM followers f
JOIN sources s ON s.id = f.source_id
LEFT JOIN linkedin_profiles li ON s.provider = 'linkedin' AND li.id = f.follower_id
LEFT JOIN instagram_profiles ig ON s.provider = 'instagram' AND ig.id = f.follower_id
"""

V_FOLLOW_EVENTS = """
CREATE VIEW v_follow_events AS
SELECT s.name AS source,
       e.follower_id AS follower_id,
       e.event AS event,
       e.occurred_at AS occurred_at,
       e.run_id AS run_id
FROM follow_events e
JOIN sources s ON s.id = e.source_id
"""

# One row per source and UTC day, from the day of its first event to today. `followers` is the running
# total of baseline + follow - unfollow events; `gained` counts follow events only (a baseline is not
# growth; a refollow is), `lost` counts unfollow events. A confirmed unfollow's event is dated when
# the follower was first missed, so confirming it can change a recent day's figures.
# It reads the events' daily sums (`daily_growth`), never the events, and is built so that a filter on
# `source` reaches the sources table before anything is summed: the running total is partitioned by
# the source's name, which lets both databases apply `WHERE source = ...` first (README, "The
# database": one source's year or every source's last quarter in milliseconds at millions of events).
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

# A profile's history belongs to the provider's profile, which every source it follows shares: join
# `v_followers` on (provider, follower_id) for a source's followers' changes.
V_PROFILE_CHANGES = """
CREATE VIEW v_profile_changes AS
SELECT c.provider AS provider,
       c.follower_id AS follower_id,
       c.field AS field,
       c.old_value AS old_value,
       c.new_value AS new_value,
       c.changed_at AS changed_at,
       c.run_id AS run_id
FROM profile_changes c
"""

VIEW_NAMES = ("v_followers", "v_follow_events", "v_follower_growth_daily", "v_profile_changes")


def create_view_statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements of the current schema for `dialect`."""
    growth = V_FOLLOWER_GROWTH_DAILY["postgresql" if dialect == "postgresql" else "sqlite"]
    return [V_FOLLOWERS, V_FOLLOW_EVENTS, growth, V_PROFILE_CHANGES]
