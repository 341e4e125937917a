"""load_settings: find the file, read it against REFERENCE, apply the environment, build `Settings`.

    load_settings()
      ├── the file     --config PATH > FOLLOWERSYNC_CONFIG > ./followersync.toml > none (all defaults)
      ├── REFERENCE    each key read by its reader; an unknown key named, with the likely intended one
      └── environment  POSTPRESS_API_KEY, FOLLOWERSYNC_DATABASE_URL, FOLLOWERSYNC_BASE_URL

Then what one key cannot say alone: required keys of [[sources]], unique names, a hook's url or
command, the sources a hook names, a page_size above the provider's maximum (capped, with a warning).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from followersync.config.model import (
    CONFIG_FILE_NAME,
    ENV_API_KEY,
    ENV_CONFIG,
    EXPECTED_PROVIDERS,
    PROVIDER_MAX_PAGE_SIZE,
    PROVIDER_TITLES,
    PROVIDERS,
    ApiSettings,
    ConfigError,
    DatabaseSettings,
    HookConfig,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
)
from followersync.config.readers import show
from followersync.config.reference import ENVIRONMENT, REFERENCE, ConfigKey

_KEYS = {entry.key: entry for entry in REFERENCE}
_TABLE_KEYS: dict[str, dict[str, ConfigKey]] = {}
for _entry in REFERENCE:
    _TABLE_KEYS.setdefault(_entry.table, {})[_entry.name] = _entry
del _entry
_SOURCES = "sources"
_SOURCE_TABLE = "sources[]"
_NOTIFY = "notify"
_ARRAYS = (_SOURCES, _NOTIFY)  # the top-level arrays of tables: [[sources]], [[notify]]
_API_KEY_NAMES = {"api_key", "apikey", "x_api_key", "postpress_api_key"}


def _child_tables(table: str) -> list[str]:
    """The tables directly inside `table` ("" is the top level), in reference order."""
    children: list[str] = []
    for path in _TABLE_KEYS:
        parts = path.removesuffix("[]").split(".")
        for depth, name in enumerate(parts):
            if ".".join(parts[:depth]) == table and name not in children:
                children.append(name)
    return children


def load_settings(config_path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Find, read and validate the configuration; raise ConfigError (one line naming the key) if bad."""
    env = os.environ if env is None else env
    path = _find_config_file(config_path, env)
    values: dict[str, Any] = {}
    arrays: dict[str, list[dict[str, Any]]] = {name: [] for name in _ARRAYS}
    hooks: tuple[HookConfig, ...] = ()
    if path is not None:
        data = _read_toml(path)
        try:
            _read_table(data, "", values, arrays)
            checked = _check_sources(arrays[_SOURCES])
            hooks = _check_hooks(arrays[_NOTIFY], checked)
        except ConfigError as error:
            raise ConfigError(f"{error} (in {path})") from None
    else:
        checked = ()

    for var in ENVIRONMENT:
        raw = env.get(var.name, "").strip()
        if var.key is not None and raw:
            values[var.key] = _KEYS[var.key].read(raw, f"{var.key} (from {var.name})")

    warnings: list[str] = []
    providers = {}
    for provider in PROVIDERS:
        section = _section(values, f"providers.{provider}")
        maximum = PROVIDER_MAX_PAGE_SIZE[provider]
        page_size = section.setdefault("page_size", maximum)
        if page_size > maximum:
            warnings.append(
                f"providers.{provider}.page_size: {page_size} is above the {PROVIDER_TITLES[provider]} "
                f"maximum of {maximum}; using {maximum}"
            )
            section["page_size"] = maximum
        providers[provider] = ProviderSettings(**section)
    warnings.extend(_same_followers_warnings(checked))

    api_key = env.get(ENV_API_KEY, "").strip() or None
    return Settings(
        api=dataclasses.replace(ApiSettings(), **_section(values, "api"), api_key=api_key),
        database=dataclasses.replace(DatabaseSettings(), **_section(values, "database")),
        sync=dataclasses.replace(SyncSettings(), **_section(values, "sync")),
        providers=providers,
        sources=checked,
        notify=hooks,
        config_path=path,
        warnings=tuple(warnings),
    )


def _find_config_file(config_path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """--config PATH, else FOLLOWERSYNC_CONFIG, else ./followersync.toml if present, else no file."""
    if config_path is not None:
        path, origin = Path(config_path), "config file"
    elif env.get(ENV_CONFIG, "").strip():
        path, origin = Path(env[ENV_CONFIG].strip()), f"config file (from {ENV_CONFIG})"
    else:
        default = Path(CONFIG_FILE_NAME)
        return default if default.is_file() else None
    # A path the user named must exist: silently running on defaults would sync into the wrong database.
    if path.is_dir():
        raise ConfigError(f"{origin} {path} is a directory, not a TOML file")
    if not path.is_file():
        raise ConfigError(f"{origin} {path} does not exist")
    return path


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        # tomllib's message carries "(at line N, column M)" and never the file's values.
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: invalid TOML: the file is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None


def _read_table(
    data: Mapping[str, Any], table: str, values: dict[str, Any], arrays: dict[str, list[dict[str, Any]]]
) -> None:
    """Check one TOML table against REFERENCE, adding its read values (by dotted key) to `values`."""
    keys = _TABLE_KEYS.get(table, {})
    children = _child_tables(table)
    for name, value in data.items():
        dotted = f"{table}.{name}" if table else name
        if name in keys:
            values[dotted] = keys[name].read(value, dotted)
        elif table == "" and name in arrays:
            arrays[name].extend(_array_tables(name, value))
        elif name in children:
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted}: must be a table ([{dotted}]), got {show(value)}")
            _read_table(value, dotted, values, arrays)
        else:
            raise ConfigError(_unknown_key(dotted, table, name, [*keys, *children]))


def _array_tables(array: str, value: object) -> list[dict[str, Any]]:
    """The [[sources]] or [[notify]] tables, each read against REFERENCE (missing keys are checked
    afterwards)."""
    if not isinstance(value, list):
        shown = f"a table ([{array}])" if isinstance(value, dict) else show(value)
        raise ConfigError(f"{array}: must be an array of tables ([[{array}]]), got {shown}")
    tables: list[dict[str, Any]] = []
    keys = _TABLE_KEYS[f"{array}[]"]
    for number, item in enumerate(value, start=1):
        label = f"{array}[{number}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{label}: must be a table ([[{array}]]), got {show(item)}")
        read: dict[str, Any] = {}
        for name, raw in item.items():
            if name not in keys:
                raise ConfigError(_unknown_key(f"{label}.{name}", f"{array}[]", name, list(keys)))
            read[name] = keys[name].read(raw, f"{label}.{name}")
        tables.append(read)
    return tables


def _check_sources(tables: list[dict[str, Any]]) -> tuple[SourceConfig, ...]:
    """Required keys present and names unique, numbering sources from 1 in file order."""
    seen: dict[str, int] = {}
    sources: list[SourceConfig] = []
    for number, table in enumerate(tables, start=1):
        for entry in _TABLE_KEYS[_SOURCE_TABLE].values():
            if entry.required and entry.name not in table:
                raise ConfigError(f"{_SOURCES}[{number}].{entry.name}: missing ({entry.meaning})")
        name = table["name"]
        if name in seen:
            raise ConfigError(
                f'{_SOURCES}: duplicate source name "{name}" (sources[{seen[name]}] and sources[{number}])'
            )
        seen[name] = number
        sources.append(SourceConfig(**table))
    return tuple(sources)


def _check_hooks(tables: list[dict[str, Any]], sources: Sequence[SourceConfig]) -> tuple[HookConfig, ...]:
    """Each hook has exactly one of url and command, a unique name, and names only configured sources."""
    known = [source.name for source in sources]
    seen: dict[str, int] = {}
    hooks: list[HookConfig] = []
    for number, table in enumerate(tables, start=1):
        label = f"{_NOTIFY}[{number}]"
        if ("url" in table) == ("command" in table):
            which = "both" if "url" in table else "neither"
            raise ConfigError(f"{label}: give either url or command, not {which}")
        for name in table.get("sources", ()):
            if name not in known:
                listing = ", ".join(known) if known else "none: the configuration has no [[sources]]"
                raise ConfigError(
                    f'{label}.sources: no source named "{name}" (configured sources: {listing})'
                )
        name = table.setdefault("name", f"notify-{number}")
        if name in seen:
            raise ConfigError(f'{_NOTIFY}: duplicate hook name "{name}" (notify[{seen[name]}] and {label})')
        seen[name] = number
        hooks.append(HookConfig(number=number, **table))
    return tuple(hooks)


def _same_followers_warnings(sources: Sequence[SourceConfig]) -> list[str]:
    # Not an error (a rename in progress is legitimate) but it spends the account's budget twice.
    first: dict[tuple[str, str, str | None], SourceConfig] = {}
    warnings = []
    for source in sources:
        target = (source.provider, source.account_id, source.user_id)
        if target in first:
            warnings.append(
                f'sources: "{source.name}" lists the same followers as "{first[target].name}" '
                "(same provider, account_id and user_id)"
            )
        first.setdefault(target, source)
    return warnings


def _unknown_key(dotted: str, table: str, name: str, known: list[str]) -> str:
    """The message for a key REFERENCE does not know, with the likely intended key when there is one."""
    if name.lower().replace("-", "_") in _API_KEY_NAMES:
        # The value is deliberately not echoed: it is a secret the user just put in a file.
        return (
            f"{dotted}: the API key does not belong in the file; set {ENV_API_KEY} in the environment instead"
        )
    elsewhere = [
        e.table for e in REFERENCE if e.name == name and e.table != table and not e.table.endswith("[]")
    ]
    if table == "providers":
        if elsewhere:
            return f"{dotted}: set it per provider, in [providers.linkedin] or [providers.instagram]"
        return f"{dotted}: unknown provider (expected {EXPECTED_PROVIDERS})"
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        hint = f'did you mean "{close[0]}"?'
    elif elsewhere:
        hint = "it belongs in " + " or ".join(f"[{t}]" for t in elsewhere)
    else:
        hint = f"known {'tables' if table == '' else 'keys'}: {', '.join(known)}"
    return f"{dotted}: unknown key ({hint})"


def _section(values: Mapping[str, Any], table: str) -> dict[str, Any]:
    """The read values of one table, by their names inside it."""
    return {key.rpartition(".")[2]: value for key, value in values.items() if key.rpartition(".")[0] == table}
