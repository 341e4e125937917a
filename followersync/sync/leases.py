"""Who syncs an account: the lease's holder id, telling a dead holder of this host from a live one, and
the heartbeat that keeps a lease while its account's sources run (docs/semantics.md#one-syncer-per-account).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid

import sqlalchemy as sa

from followersync import logging as fslogging
from followersync.clock import Clock
from followersync.domain import ErrorType, FollowersyncError
from followersync.store import leases as store_leases

log = fslogging.get_logger("followersync.worker")  # the logger name users filter on


class LeaseLost(FollowersyncError):
    """Another process took over the account's lease (ours expired): stop writing at once."""

    error_type = ErrorType.LEASE_LOST


def new_holder_id() -> str:
    """Who holds a lease: host, process and a random part (pids repeat across containers)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{pid_namespace()}"


def pid_namespace() -> str:
    """Which process-id namespace this process lives in (Linux: the inode of /proc/self/ns/pid; "" where
    there is none to read). Containers that share a hostname (`network_mode: host`, a fixed
    `hostname:`) each number their processes anew: a pid is only meaningful within its namespace."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def holder_is_gone(holder: str) -> bool:
    """True only when the lease's holder was a process of this host that no longer exists
    (docs/semantics.md#one-syncer-per-account): its lease need not be waited out.

    Every doubt is "alive": another host or another pid namespace (we cannot look at its processes),
    a holder id not in new_holder_id's form, a pid that exists, whoever it belongs to now (the kernel
    reuses pids: then the lease simply expires as before), or one we may not signal (PermissionError:
    it exists).
    """
    parts = holder.split(":")
    if len(parts) != 4:  # not new_holder_id's form (an older followersync's, a test's): wait it out
        return False
    host, pid_text, _, namespace = parts
    # Same host and same pid namespace, or the pid says nothing: a process of another container with
    # our hostname is missing from our namespace while it runs.
    if (
        host != socket.gethostname()
        or not namespace
        or namespace != pid_namespace()
        or not pid_text.isdigit()
    ):
        return False
    pid = int(pid_text)
    if pid <= 1 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: sends nothing, only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class Heartbeat:
    """Renews an account's lease every third of its lifetime while a group works."""

    def __init__(self, database: sa.Engine, account_id: str, holder: str, clock: Clock, ttl: float) -> None:
        self.lost = threading.Event()
        self._done = threading.Event()
        self._args = (database, account_id, holder, clock, ttl)
        self._thread = threading.Thread(target=self._beat, name=f"lease-{account_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        database, account_id, holder, clock, ttl = self._args
        while not self._done.wait(ttl / 3):
            try:
                with database.begin() as conn:
                    if not store_leases.renew_lease(conn, account_id, holder, clock.now(), ttl):
                        self.lost.set()
                        return
            except sa.exc.DBAPIError:
                log.warning("lease.renew_failed", account_id=account_id)
