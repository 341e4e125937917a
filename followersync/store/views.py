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
V_FOLLOWER_GROWTH_DAILY = {
    "postgresql": """
CREATE VIEW v_follower_growth_daily AS
WITH daily AS (
    SELECT source_id,
           (occurred_at AT TIME ZONE 'UTC')::date AS day,
           count(*) FILTER (WHERE event IN ('baseline', 'follow'))
             - count(*) FILTER (WHERE event = 'unfollow') AS net,
           count(*) FILTER (WHERE event = 'follow') AS gained,
           count(*) FILTER (WHERE event = 'unfollow') AS lost
    FROM follow_events
    GROUP BY source_id, (occurred_at AT TIME ZONE 'UTC')::date
),
days AS (
    SELECT b.source_id, g.day::date AS day
    FROM (SELECT source_id, min(day) AS first_day FROM daily GROUP BY source_id) b
    CROSS JOIN LATERAL generate_series(
        b.first_day::timestamp,
        GREATEST(b.first_day, (now() AT TIME ZONE 'UTC')::date)::timestamp,
        interval '1 day'
    ) AS g(day)
)
SELECT s.name AS source,
       d.day AS day,
       (sum(COALESCE(dl.net, 0)) OVER (PARTITION BY d.source_id ORDER BY d.day))::bigint AS followers,
       COALESCE(dl.gained, 0)::bigint AS gained,
       COALESCE(dl.lost, 0)::bigint AS lost
FROM days d
JOIN sources s ON s.id = d.source_id
LEFT JOIN daily dl ON dl.source_id = d.source_id AND dl.day = d.day
""",
    "sqlite": """
CREATE VIEW v_follower_growth_daily AS
WITH RECURSIVE daily AS (
    SELECT source_id,
           date(occurred_at) AS day,
           sum(CASE WHEN event IN ('baseline', 'follow') THEN 1 WHEN event = 'unfollow' THEN -1 ELSE 0 END)
             AS net,
           sum(CASE WHEN event = 'follow' THEN 1 ELSE 0 END) AS gained,
           sum(CASE WHEN event = 'unfollow' THEN 1 ELSE 0 END) AS lost
    FROM follow_events
    GROUP BY source_id, date(occurred_at)
),
days(source_id, day) AS (
    SELECT source_id, min(day) FROM daily GROUP BY source_id
    UNION ALL
    SELECT source_id, date(day, '+1 day') FROM days WHERE day < date('now')
)
SELECT s.name AS source,
       d.day AS day,
       sum(COALESCE(dl.net, 0)) OVER (PARTITION BY d.source_id ORDER BY d.day) AS followers,
       COALESCE(dl.gained, 0) AS gained,
       COALESCE(dl.lost, 0) AS lost
FROM days d
JOIN sources s ON s.id = d.source_id
LEFT JOIN daily dl ON dl.source_id = d.source_id AND dl.day = d.day
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
