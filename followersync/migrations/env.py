"""Alembic environment: migrations run on the engine followersync hands over, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

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
    engine = _engine()
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # pysqlite runs DDL outside any transaction: one explicit BEGIN makes the whole migration,
            # version stamp included, a single transaction, so a process killed half way leaves nothing.
            connection.exec_driver_sql("BEGIN")
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("followersync migrations run online only: `followersync migrate`")
run_migrations_online()
