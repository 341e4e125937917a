"""The simulator standalone (`followersync simulate`, `python -m followersync.simulator`), e.g. for
docker-compose: fixed accounts, optional churn, until SIGINT or SIGTERM.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Sequence
from types import FrameType

import click

from followersync.simulator.core import Simulator
from followersync.simulator.errors import DEFAULT_API_KEY
from followersync.simulator.quirk_options import Quirk, apply_quirks, quirks_help, quirks_option


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


@click.command(
    "simulate",
    epilog=(
        "Example (then point followersync at it with "
        "FOLLOWERSYNC_BASE_URL=http://127.0.0.1:8080/api/v1):\n\n"
        "\b\n"
        "  POSTPRESS_API_KEY=dev-key followersync simulate --port 8080 \\\n"
        "      --instagram-accounts 2 --followers 5000 --churn 2\n"
        "  curl -H 'X-API-KEY: dev-key' \\\n"
        "      'http://127.0.0.1:8080/api/v1/users/followers?account_id=acc_ig_01&limit=5'\n\n"
        + quirks_help()
        + "\n\nWhat each quirk does, with a curl line to see it: docs/simulator.md."
    ),
)
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Interface to bind (0.0.0.0 in a container)."
)
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port."
)
@click.option(
    "--api-key",
    envvar="POSTPRESS_API_KEY",
    default=DEFAULT_API_KEY,
    show_default=False,
    help=f"Key the X-API-KEY header must carry. Default: $POSTPRESS_API_KEY, else {DEFAULT_API_KEY!r}.",
)
@click.option(
    "--linkedin-accounts", default=1, show_default=True, type=click.IntRange(0, 99), help="acc_linkedin_01..."
)
@click.option(
    "--instagram-accounts", default=1, show_default=True, type=click.IntRange(0, 99), help="acc_ig_01..."
)
@click.option(
    "--followers", default=1000, show_default=True, type=click.IntRange(0), help="Followers per account."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same followers.")
@click.option(
    "--latency",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds added to every response.",
)
@click.option(
    "--churn",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Follow/unfollow events per second.",
)
@click.option(
    "--quirk",
    "quirks",
    multiple=True,
    metavar="NAME[=VALUE]",
    callback=quirks_option,
    help="Behave like the real service in one more way (repeatable; the list is below).",
)
def simulate_command(
    host: str,
    port: int,
    api_key: str,
    linkedin_accounts: int,
    instagram_accounts: int,
    followers: int,
    seed: int,
    latency: float,
    churn: float,
    quirks: tuple[Quirk, ...],
) -> None:
    """Serve a realistic fake postpress API (GET /api/v1/users/followers) until Ctrl-C or SIGTERM.

    For demos, docker-compose and integration tests: deterministic followers (by seed), real
    pagination with offset cursors, optional latency and live follow/unfollow churn, and on demand
    the real service's quirks (--quirk).
    """
    try:
        serve(
            host=host,
            port=port,
            api_key=api_key,
            linkedin_accounts=linkedin_accounts,
            instagram_accounts=instagram_accounts,
            followers=followers,
            seed=seed,
            latency=latency,
            churn=churn,
            quirks=quirks,
        )
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def _main() -> None:
    """`python -m followersync.simulator`: the simulate command without the rest of the CLI."""
    simulate_command(prog_name="followersync simulate")
