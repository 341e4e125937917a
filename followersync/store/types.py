"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that is always UTC and timezone-aware in Python.

    PostgreSQL stores `timestamptz`. SQLite has no time zones: values are stored as naive UTC text
    (the README's "The database" lets readers treat offset-less values as UTC) and come back aware.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class RawJSON(sa.types.TypeDecorator[str]):
    """JSON text passed through as-is: the item exactly as the API sent it.

    We already hold each item's JSON text, so re-encoding it through `sa.JSON` would be wasted work.
    On PostgreSQL the column is `jsonb` (queryable, and equal documents compare equal whatever their
    key order or spacing, which the unchanged-row check relies on); on SQLite it is text.
    """

    impl = sa.Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.Text())

    def bind_expression(self, bindvalue: Any) -> Any:
        # The parameter is JSON text; PostgreSQL needs it cast to jsonb inside the statement.
        return sa.cast(bindvalue, self)

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        import json

        return json.dumps(value, ensure_ascii=False)


def json_column_type() -> sa.types.TypeEngine[Any]:
    """Structured JSON (error details): jsonb on PostgreSQL, JSON text on SQLite.

    Python None is SQL NULL, not the JSON text `null`, so that `WHERE error_detail IS NULL` finds
    every run without an error.
    """
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
