"""Every exception followersync raises on purpose shares one root, `FollowersyncError`, so a caller
(a script embedding followersync, a test) can catch all of ours and none of anyone else's.

The exceptions of the command line are click's own (`UsageProblem`, `DatabaseFailed`): they are how a
command exits with its code, not errors of followersync's, and are the only ones left out.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click

import followersync
from followersync.domain import FollowersyncError


def exceptions_defined_in_followersync() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(followersync.__path__, "followersync."):
        if module_info.name.startswith("followersync.migrations") or module_info.name.endswith("__main__"):
            continue  # alembic revisions (alembic loads them) and `python -m` entry points (they run)
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_exception_of_ours_is_a_followersync_error() -> None:
    found = exceptions_defined_in_followersync()
    assert "followersync.api.errors.CredentialError" in found  # the walk reaches every package
    assert "followersync.config.model.ConfigError" in found
    outside = sorted(
        name
        for name, cls in found.items()
        if not issubclass(cls, FollowersyncError) and not issubclass(cls, click.ClickException)
    )
    assert outside == []
