"""The simulator standalone, e.g. for docker-compose: fixed accounts, optional churn, until SIGINT or
SIGTERM. `serve` takes plain arguments; the command that parses them (`followersync simulate`) is the
CLI's: followersync/cli/simulate_command.py.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from followersync.simulator.core import Simulator
from followersync.simulator.errors import DEFAULT_API_KEY
from followersync.simulator.quirk_options import Quirk, apply_quirks


def _account_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(1, count + 1)]


def _churn(sim: Simulator, rate: float, seed: int, stop: threading.Event) -> None:
    """Follow/unfollow events at `rate` per second, spread over all listings, until `stop`."""
    rng = random.Random(seed ^ 0x5EED)
    listings = sim.listings()
    while listings and not stop.wait(rng.expovariate(rate)):
        account_id, user_id = rng.choice(listings)
        # Slightly more follows than unfollows: a growing account, like the demo wants to show.
        if rng.random() < 0.55 or not sim.follower_ids(account_id, user_id=user_id):
            sim.follow(account_id, user_id=user_id)
        else:
            sim.unfollow(account_id, count=1, user_id=user_id)


def serve(
    *,
    host: str,
    port: int,
    api_key: str,
    linkedin_accounts: int,
    instagram_accounts: int,
    followers: int,
    seed: int,
    latency: float,
    churn: float,
    quirks: Sequence[Quirk] = (),
) -> None:
    """Run a simulator in the foreground until SIGINT or SIGTERM (`followersync simulate`).

    Creates `acc_linkedin_01`.. and `acc_ig_01`.., each with `followers` followers, churns them at
    `churn` events per second, turns `quirks` on for every account (quirk_options.py), and prints the
    base URL and the account ids (never the key).
    """
    sim = Simulator(api_key, latency=latency, seed=seed, host=host, port=port)
    accounts = [(a, "linkedin") for a in _account_ids("acc_linkedin_", linkedin_accounts)]
    accounts += [(a, "instagram") for a in _account_ids("acc_ig_", instagram_accounts)]
    for account_id, provider in accounts:
        sim.add_account(account_id, provider, followers=followers)
    apply_quirks(sim, quirks)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    sim.start()  # binding first: a port in use fails here, with nothing to undo
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        key_note = (
            "the built-in default (see --help)"
            if api_key == DEFAULT_API_KEY
            else "from --api-key / $POSTPRESS_API_KEY (not shown)"
        )
        lines = [
            f"postpress simulator serving {sim.base_url}/users/followers (also /v1/users/followers)"
            f" on {host}:{sim.port}",
            f"X-API-KEY: {key_note}",
            f"latency {latency:g}s, churn {churn:g} events/s, seed {seed}",
            *([f"quirks: {' '.join(q.text for q in quirks)}"] if quirks else []),
            "accounts:",
            *(f"  {a:<20} {p:<10} {followers} followers" for a, p in accounts),
        ]
        if accounts:
            lines.append(
                f"try: curl -H {_key_header(api_key)} "
                f"'{sim.base_url}/users/followers?account_id={accounts[0][0]}&limit=2'"
            )
        lines.append("Ctrl-C or SIGTERM stops it.")
        print("\n".join(lines), flush=True)
        churner = None
        if churn > 0:
            churner = threading.Thread(target=_churn, args=(sim, churn, seed, stop), daemon=True)
            churner.start()
        stop.wait()
        if churner is not None:
            churner.join(timeout=2)
    finally:
        sim.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("simulator stopped", flush=True)


def _key_header(api_key: str) -> str:
    """The start-up hint's curl header, as it must be typed to be accepted. The built-in default is no
    secret and is printed as it is (`$POSTPRESS_API_KEY` is unset when it is in use, and the curl would
    get a 401); any other key is never printed: the variable that carries it, or, for a key given
    with --api-key alone, a placeholder."""
    if api_key == DEFAULT_API_KEY:
        return f"'X-API-KEY: {DEFAULT_API_KEY}'"
    if os.environ.get("POSTPRESS_API_KEY") == api_key:
        return '"X-API-KEY: $POSTPRESS_API_KEY"'
    return "'X-API-KEY: <the key given with --api-key>'"
