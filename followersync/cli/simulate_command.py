"""`followersync simulate`: the options of the standalone simulator, handed to
`followersync.simulator.serve`."""

from __future__ import annotations

from collections.abc import Sequence

import click

from followersync.simulator import DEFAULT_API_KEY, serve
from followersync.simulator.quirk_options import Quirk, check_quirks, parse_quirk, quirks_help


def quirks_option(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[Quirk, ...]:
    """The `--quirk` option's callback: the quirks given, or a usage error naming the bad one (exit 2)."""
    try:
        quirks = tuple(parse_quirk(value) for value in values)
        check_quirks(quirks)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return quirks


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
