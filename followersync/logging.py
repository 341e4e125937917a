"""structlog set-up: human-readable on a terminal, JSON lines otherwise, secrets never printed.

structlog is imported when the first line is written, not before: importing it loads its console
renderer (and with it rich) and its standard-library integration (and with it asyncio), a large part
of the start-up of a command that logs nothing, such as `followersync status` on a healthy database.
So `configure` only records the set-up, and every module takes its loggers from `get_logger` here,
never from structlog itself (an import-linter contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, MutableMapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO, cast

from followersync.text import printable

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

_secrets: list[str] = []


def register_secret(value: str | None) -> None:
    """Never print `value` (the API key, a database password), whichever log line carries it."""
    if value and len(value) >= 4 and value not in _secrets:
        _secrets.append(value)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def printable_values(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor for console lines: text values through `followersync.text.printable`.

    A value may quote a follower or the API (a name, an error title); on a terminal an ESC in it would
    be a command. Other values the console renderer shows with repr(), which escapes them already;
    JSON lines escape control characters themselves.
    """
    return {key: printable(value) if isinstance(value, str) else value for key, value in event_dict.items()}


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: replace every registered secret in every value of the line."""
    if not _secrets:
        return event_dict
    return {key: _scrub(value) for key, value in event_dict.items()}


@dataclass(frozen=True)
class _SetUp:
    """What `configure` was asked for, decided at once but applied to structlog at the first line."""

    out: TextIO | _CurrentStderr
    log_format: str
    colors: bool
    level: str


_pending: _SetUp | None = None
# Held while the set-up is applied: a pass's threads may write their first lines at once, and none
# may write before structlog is configured.
_applying = threading.Lock()


def configure(log_format: str | None = None, *, stream: TextIO | None = None, level: str = "info") -> None:
    """Send logs to stderr (stdout is for command output) as `console` or `json` lines.

    With no format given, a terminal gets the console renderer and anything else gets JSON lines.
    Whether stderr is a terminal is decided here, at start-up, not at the first line: by then the
    progress display may have put its own stream in its place.
    """
    global _pending
    out: TextIO | _CurrentStderr = stream or _CurrentStderr()
    if log_format is None:
        log_format = "console" if out.isatty() else "json"
    _pending = _SetUp(out, log_format, colors=out.isatty(), level=level)
    if "structlog" in sys.modules:
        # Loaded already (by a test, say): waiting would save nothing, and whoever logs through
        # structlog directly (structlog.testing) sees the set-up at once, as before.
        _apply_pending()
    # Libraries that log through the standard library (httpx logs every request URL at INFO) stay quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _apply_pending() -> None:
    global _pending
    with _applying:
        if _pending is not None:
            _configure_structlog(_pending)
            _pending = None


def _configure_structlog(set_up: _SetUp) -> None:
    import structlog

    renderer: Any = (
        structlog.processors.JSONRenderer()
        if set_up.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=set_up.colors)
    )
    processors: Iterable[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if set_up.log_format == "json" else _keep,
        redact_secrets,
        _keep if set_up.log_format == "json" else printable_values,
        renderer,
    ]
    structlog.configure(
        processors=[p for p in processors if p is not _keep],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, set_up.level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=set_up.out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> FilteringBoundLogger:
    """The logger `name`, as structlog's: structlog is imported (and configured) at its first line."""
    return cast("FilteringBoundLogger", _LazyLogger(name))


class _LazyLogger:
    def __init__(self, name: str) -> None:
        self._name = name
        self._logger: Any = None

    def __getattr__(self, attribute: str) -> Any:
        if self._logger is None:
            _apply_pending()
            import structlog

            # structlog's own lazy proxy: it reads structlog's configuration at each call, so a later
            # `configure` (or structlog.testing's capture) still applies.
            self._logger = structlog.get_logger(self._name)
        return getattr(self._logger, attribute)


def bound_contextvars(**values: Any) -> AbstractContextManager[None]:
    """structlog's `bound_contextvars`: `values` are on every line logged inside the block."""
    import structlog

    return structlog.contextvars.bound_contextvars(**values)


def _keep(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    return event_dict


class _CurrentStderr:
    """sys.stderr as it is at each write, not as it was at start-up: the progress display swaps it
    for a proxy that prints log lines above the live lines."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()
