"""The one set-up of a sync: what `sync`, `worker`, the demo and the test harness all run on.

    open_sync(settings, engine, clock)
      ├── the configured sources, reconciled with the `sources` table (their ids)
      ├── the API client, every request counted against its account's daily budget (BudgetGate)
      ├── the pass runner (one pass of one source) under this process's lease holder id
      └── the fleet (many sources, one lease per account)

The caller opens the database (its schema policy is the command's: `sync` creates an empty one, the
demo migrates its own file) and chooses the clock: the system's, or a fake one that tests and the demo
move by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from followersync.api.client import Client
from followersync.clock import Clock
from followersync.config import Settings, SourceConfig
from followersync.store import sources
from followersync.sync.budget import BudgetGate
from followersync.sync.fleet import Fleet
from followersync.sync.leases import new_holder_id
from followersync.sync.runner import PassRunner


@dataclass(frozen=True)
class Sync:
    """Everything a sync needs, open; closed by leaving `open_sync`."""

    settings: Settings
    engine: sa.Engine
    client: Client
    runner: PassRunner
    fleet: Fleet
    ids: dict[str, int]  # source name -> its id in `sources`

    def sources(self, names: Sequence[str] = ()) -> list[tuple[SourceConfig, int]]:
        """The configured sources (or those named), each with its id, as `Fleet.sync` takes them."""
        return [(s, self.ids[s.name]) for s in self.settings.select_sources(names)]


@contextmanager
def open_sync(
    settings: Settings,
    engine: sa.Engine,
    clock: Clock,
    *,
    holder: str | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Sync]:
    """Set up a sync on an open, migrated database; the API client is closed on leaving."""
    with engine.begin() as conn:
        ids = sources.reconcile_sources(conn, settings.sources, clock.now())
    with build_client(settings, engine, clock) as client:
        runner = PassRunner(
            engine, client, settings, clock, holder or new_holder_id(), stop=stop or threading.Event()
        )
        yield Sync(settings, engine, client, runner, Fleet(runner, settings), ids)


def build_client(settings: Settings, database: sa.Engine, clock: Clock) -> Client:
    """The API client with the shared daily budget wired in."""
    return Client(
        settings.api,
        settings.providers,
        settings.require_api_key(),
        clock=clock,
        before_request=BudgetGate(database, settings, clock),
    )
