"""The alembic environment and revisions, imported as followersync.migrations.

This top-level folder is installed as the package followersync.migrations (pyproject.toml maps the name
to the folder), so a wheel or the Docker image carries the migrations inside followersync and
`followersync migrate` needs no checkout. Revisions import their frozen SQL by that name.
"""
