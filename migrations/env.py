"""Alembic environment: migrations run in the connection (and transaction) followersync hands over, or
under the schema lock on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from followersync.store.schema import metadata

config = context.config


def _engine() -> Engine:
    engine: Engine | None = config.attributes.get("engine")
    if engine is not None:
        return engine
    # Run by hand through the alembic command line: use followersync's own configuration.
    from followersync.config import load_settings
    from followersync.store.db import create_engine

    return create_engine(load_settings().database.url)


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        # followersync's own migrate: the caller holds the schema lock in this connection's open
        # transaction and commits it; the migration joins that transaction (alembic begins and
        # commits none of its own in a connection that is already in one).
        _run(connection)
        return
    from followersync.store.db import schema_lock

    with schema_lock(_engine()) as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("followersync migrations run online only: `followersync migrate`")
run_migrations_online()
