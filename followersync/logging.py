"""structlog set-up: human-readable on a terminal, JSON lines otherwise, secrets never printed."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

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


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: replace every registered secret in every value of the line."""
    if not _secrets:
        return event_dict
    return {key: _scrub(value) for key, value in event_dict.items()}


def configure(log_format: str | None = None, *, stream: TextIO | None = None, level: str = "info") -> None:
    """Send logs to stderr (stdout is for command output) as `console` or `json` lines.

    With no format given, a terminal gets the console renderer and anything else gets JSON lines.
    """
    out: TextIO | _CurrentStderr = stream or _CurrentStderr()
    if log_format is None:
        log_format = "console" if out.isatty() else "json"
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    processors: Iterable[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if log_format == "json" else _keep,
        redact_secrets,
        renderer,
    ]
    structlog.configure(
        processors=[p for p in processors if p is not _keep],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # Libraries that log through the standard library (httpx logs every request URL at INFO) stay quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


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
