"""REFERENCE (every key, its default and meaning), the settings dataclasses and docs/configuration.md
stay in step: the docs hold every reference table and both examples verbatim."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from followersync.config import (
    ENVIRONMENT,
    PROVIDER_MAX_PAGE_SIZE,
    REFERENCE,
    ApiSettings,
    ConfigKey,
    DatabaseSettings,
    HookConfig,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
)
from tests.config_support import (
    DEFAULTS_EXAMPLE,
    DOCS,
    SOURCES_EXAMPLE,
)

# --- REFERENCE, the dataclasses and the docs stay in step --------------------------------------------

pytestmark = pytest.mark.usefixtures("own_working_directory")


def _dataclass_default(key: str) -> object:
    settings = Settings()
    table, _, name = key.rpartition(".")
    if table.startswith("providers."):
        return getattr(settings.provider(table.removeprefix("providers.")), name)
    if table == "notify[]":
        return next(f.default for f in dataclasses.fields(HookConfig) if f.name == name)
    return getattr(getattr(settings, table), name)


@pytest.mark.parametrize("entry", [e for e in REFERENCE if e.default is not None], ids=lambda e: e.key)
def test_reference_default_is_the_dataclass_default(entry: ConfigKey) -> None:
    raw = tomllib.loads(f"value = {entry.default}")["value"]
    assert entry.read(raw, entry.key) == _dataclass_default(entry.key)


def test_reference_covers_every_dataclass_field() -> None:
    documented = {e.key for e in REFERENCE}
    sections = {"api": ApiSettings, "database": DatabaseSettings, "sync": SyncSettings}
    expected = {f"{table}.{f.name}" for table, cls in sections.items() for f in dataclasses.fields(cls)}
    expected.discard("api.api_key")  # environment only, by design
    expected |= {
        f"providers.{p}.{f.name}"
        for p in PROVIDER_MAX_PAGE_SIZE
        for f in dataclasses.fields(ProviderSettings)
    }
    expected |= {f"sources[].{f.name}" for f in dataclasses.fields(SourceConfig)}
    # `number` is the table's place in the file, not a key.
    expected |= {f"notify[].{f.name}" for f in dataclasses.fields(HookConfig) if f.name != "number"}
    assert documented == expected


def _heading(table: str) -> str:
    return f"### `[[{table.removesuffix('[]')}]]`" if table.endswith("[]") else f"### `[{table}]`"


def _reference_table(table: str) -> str:
    """The markdown docs/configuration.md must hold for one table, rendered from REFERENCE."""
    rows = [_heading(table), "", "| key | default | meaning |", "| --- | --- | --- |"]
    for entry in REFERENCE:
        if entry.table == table:
            if entry.default is not None:
                default = f"`{entry.default}`"
            else:
                default = "required" if entry.required else "(none)"
            rows.append(f"| `{entry.name}` | {default} | {entry.meaning} |")
    return "\n".join(rows) + "\n"


def test_docs_hold_every_reference_table_verbatim() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    tables = list(dict.fromkeys(entry.table for entry in REFERENCE))
    for table in tables:
        expected = _reference_table(table)
        assert expected in docs, (
            f"docs/configuration.md is out of date; the [{table}] table should read:\n{expected}"
        )
    documented_tables = [line for line in docs.splitlines() if line.startswith("### `[")]
    assert documented_tables == [_heading(t) for t in tables], (
        "the docs document a table REFERENCE does not know"
    )


def test_docs_name_every_environment_variable() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for var in ENVIRONMENT:
        assert f"| `{var.name}` |" in docs
        if var.key is not None:
            assert f"| `{var.name}` | `{var.key}` |" in docs


def test_docs_show_both_examples_verbatim() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    assert f"```toml\n{SOURCES_EXAMPLE}```" in docs
    assert f"```toml\n{DEFAULTS_EXAMPLE}```" in docs
