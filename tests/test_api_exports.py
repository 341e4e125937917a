"""The api package's public names are exactly its __all__ (a guard against accidental API changes)."""

from __future__ import annotations

import types

import followersync.api as api


def test_all_exports_exist() -> None:
    for name in api.__all__:
        assert hasattr(api, name), name


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(api).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(api.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert api.__all__ == sorted(set(api.__all__))
