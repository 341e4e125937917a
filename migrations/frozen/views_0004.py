"""The views as revision 0004 left them. Frozen: never edit this file (`views_0001` says why).

0004 adds `v_profile_changes`; the other three views are those of 0003.
"""

from __future__ import annotations

from followersync.migrations.frozen import views_0003

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


def create_view_statements(dialect: str) -> list[str]:
    """The CREATE VIEW statements of revision 0004 for `dialect`, in creation order."""
    return [*views_0003.create_view_statements(dialect), V_PROFILE_CHANGES]
