"""The views as revision 0003 left them. Frozen: never edit this file (`views_0001` says why).

0003 adds `missing_since` to `v_followers`; the other two views are those of 0001.
"""

from __future__ import annotations

from followersync.migrations.frozen.views_0001 import V_FOLLOW_EVENTS, V_FOLLOWER_GROWTH_DAILY

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


def create_view_statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements of revision 0003 for `dialect`, in creation order."""
    growth = V_FOLLOWER_GROWTH_DAILY["postgresql" if dialect == "postgresql" else "sqlite"]
    return [V_FOLLOWERS, V_FOLLOW_EVENTS, growth]
