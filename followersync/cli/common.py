"""What every command shares: the global options' state, the usage and database errors with their exit
codes, and opening the configured database."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import click

from followersync import logging as fslogging
from followersync.config import ConfigError, Settings, load_settings

# SQLAlchemy is imported by the functions that open a database, not here: `followersync status` on a
# SQLite file starts without it (cli/status_command.py).
if TYPE_CHECKING:
    import sqlalchemy as sa

EXIT_SOURCE_FAILED, EXIT_USAGE = 1, 2  # and 0: all went well


class UsageProblem(click.ClickException):
    """A configuration or usage error: one line on stderr, exit code 2."""

    exit_code = EXIT_USAGE


class DatabaseFailed(click.ClickException):
    """The database failed after the command had started with it: one line on stderr, exit code 1.

    docs/semantics.md#database-outage: a database that goes away while a command runs is never a usage
    error.
    """

    exit_code = EXIT_SOURCE_FAILED


@dataclass
class Globals:
    config_path: str | None
    log_format: str | None

    def settings(self) -> Settings:
        try:
            settings = load_settings(self.config_path)
        except ConfigError as exc:
            raise UsageProblem(str(exc)) from None
        fslogging.register_secret(settings.api.api_key)
        fslogging.register_secret(settings.database.password)
        log = fslogging.get_logger("followersync")
        for warning in settings.warnings:
            log.warning("config.warning", message=warning)
        return settings


@contextmanager
def open_database(
    settings: Settings, *, schema: Literal["any", "create_if_empty", "required"]
) -> Iterator[sa.Engine]:
    """The configured database, connected to and its schema checked before the command does anything
    with it: `create_if_empty` (`sync`, `worker`) creates the schema of an empty database, `required`
    (the commands that only read) creates nothing and wants the schema there, `any` (`migrate`) only
    connects, and refuses a schema newer than this followersync (as the other two do).

    Up to there, a database that cannot be used is a configuration error (exit 2). Afterwards it was
    there and went away: whatever error escapes the command is exit 1, one line.
    """
    import sqlalchemy as sa

    from followersync.store import db

    _require_sqlite_folder(settings)
    try:
        engine = db.create_engine(settings.database.url, read_only=schema == "required")
    except ConfigError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        with at_start(settings):
            if schema == "create_if_empty":
                db.ensure_schema(engine)
            elif schema == "required":
                db.require_schema(engine)
            else:
                # `migrate`: any schema it can upgrade, but not one a newer followersync made.
                db.refuse_newer(db.current_revision(engine))
        try:
            yield engine
        except sa.exc.DBAPIError as exc:
            raise DatabaseFailed(
                f"database.url: {settings.database.safe_url} failed: {_first_line(exc)}"
            ) from None
    finally:
        engine.dispose()


def _require_sqlite_folder(settings: Settings) -> None:
    """A SQLite file's folder must exist: SQLite creates the file, never its folder, and says only
    "unable to open database file" (or, for the reading commands, we would say there is no schema and
    send people to a `migrate` that cannot work either)."""
    path = settings.database.sqlite_file
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageProblem(
            f"database.url: the folder {folder} of {settings.database.safe_url} does not exist; "
            "create it, or point database.url at a file in an existing folder"
        )


@contextmanager
def at_start(settings: Settings) -> Iterator[None]:
    """Database steps before anything has run: a database we cannot use is a usage error (exit 2)."""
    import sqlalchemy as sa

    from followersync.store import db

    try:
        yield
    except db.SchemaMissing:
        raise UsageProblem(
            f"database.url: {settings.database.safe_url} has no followersync schema yet: "
            "run `followersync migrate` or `followersync sync`"
        ) from None
    except (db.SchemaOutOfDate, db.SchemaNewer) as exc:
        raise UsageProblem(str(exc)) from None
    except sa.exc.DBAPIError as exc:  # unreachable, refused, or not a database at all
        raise UsageProblem(
            f"database.url: cannot use {settings.database.safe_url}: {_first_line(exc)}"
        ) from None


def _first_line(exc: sa.exc.DBAPIError) -> str:
    """The driver's message, without the SQL statement and parameters SQLAlchemy adds."""
    return driver_message(exc.orig)


def driver_message(error: BaseException | None) -> str:
    """The first line of a database driver's error."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def program() -> str:
    """How to run followersync again from the user's shell, for the hints commands print:
    `followersync` when that name on PATH is this program, else the path this process was started
    by (`.venv/bin/followersync` after `make demo`, where the program is not on PATH)."""
    started = sys.argv[0]
    on_path = shutil.which("followersync")
    if on_path and os.path.exists(started) and os.path.samefile(on_path, started):
        return "followersync"
    if os.path.basename(started) == "followersync" and os.path.exists(started):
        return started
    return f"{sys.executable} -m followersync"
