"""The SQL queries of the README and docs/, as the tests that run them read them (README, "The
database": a query's title is its first `--` comment line; a line marked `-- PostgreSQL` is replaced
on SQLite by the `-- SQLite: ...` line below it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Query:
    document: str
    title: str
    sql: str

    def for_dialect(self, dialect: str) -> str:
        if dialect == "postgresql":
            return self.sql
        lines = [line for line in self.sql.splitlines() if not line.rstrip().endswith("-- PostgreSQL")]
        return "\n".join(re.sub(r"^(\s*)-- SQLite: ", r"\1", line) for line in lines)


def documented_queries() -> list[Query]:
    queries = []
    for document in DOCUMENTS:
        for block in re.findall(r"```sql\n(.*?)```", document.read_text(encoding="utf-8"), flags=re.DOTALL):
            for statement in re.split(r";\s*\n", block):
                if not statement.strip():
                    continue
                title = statement.strip().splitlines()[0]
                assert title.startswith("-- "), f"{document.name}: a query without a title: {statement!r}"
                queries.append(Query(document.name, title.removeprefix("-- "), statement))
    return queries


def run(conn: sa.Connection, sql: str) -> list[sa.Row[Any]]:
    """The rows of `sql` exactly as written, as psql or sqlite3 would run it: psycopg reads `%` as a
    placeholder even in a comment when given parameters, which SQLAlchemy always gives."""
    if conn.dialect.name == "postgresql":
        sql = sql.replace("%", "%%")
    return list(conn.exec_driver_sql(sql))
