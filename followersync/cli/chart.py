"""The growth chart (`report growth --format png`), drawn with matplotlib.

matplotlib (with numpy, fontTools and Pillow, about 125 MB) is the `charts` extra, not a dependency:
a worker's image never draws. `charts_missing()` tells the command to say how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from followersync import reports

# The PNG's size in pixels: wide enough for a README, small enough to stay a few tens of kB.
CHART_WIDTH_PX, CHART_HEIGHT_PX, CHART_DPI = 1200, 700, 100


DEFAULT_CHART_PATH = "followersync-growth.png"
INSTALL_CHARTS = "pip install 'followersync[charts]'"


def charts_missing() -> bool:
    """Whether matplotlib cannot be imported (installed without the `charts` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return True
    return False


def draw_growth_chart(rows: Sequence[reports.GrowthDay], path: Path) -> None:
    """Followers per source as lines above, gained and lost per day as bars below, in one PNG.

    matplotlib is imported here, not at the top: it takes a moment to load and only png needs it. The
    figure is built without pyplot, so no GUI backend or global state is involved.
    """
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    by_source: dict[str, list[reports.GrowthDay]] = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)

    fig = Figure(
        figsize=(CHART_WIDTH_PX / CHART_DPI, CHART_HEIGHT_PX / CHART_DPI), dpi=CHART_DPI, layout="constrained"
    )
    followers_ax, change_ax = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    # Bars of several sources on one day sit side by side within the day.
    width = 0.8 / len(by_source)
    single = len(by_source) == 1
    for i, (name, series) in enumerate(by_source.items()):
        color = f"C{i}"
        when = [datetime(d.day.year, d.day.month, d.day.day) for d in series]
        followers_ax.plot(
            when,
            [d.followers for d in series],
            color=color,
            linewidth=2,
            marker="o" if len(series) <= 45 else None,
            markersize=3,
            label=name,
        )
        shift = timedelta(days=(i - (len(by_source) - 1) / 2) * width)
        at = [w + shift for w in when]
        change_ax.bar(
            at,
            [d.gained for d in series],
            width=width,
            color=color,
            label="gained" if single else f"{name} gained",
        )
        change_ax.bar(
            at,
            [-d.lost for d in series],
            width=width,
            color=color,
            alpha=0.4,
            hatch="//",
            label="lost" if single else f"{name} lost",
        )
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    fig.suptitle(f"Followers per day, {first} to {last} (UTC)", fontsize="x-large")
    followers_ax.set_ylabel("followers (end of day)")
    followers_ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    followers_ax.grid(alpha=0.3)
    followers_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=None if single else "source")
    change_ax.axhline(0, color="0.3", linewidth=0.8)
    change_ax.set_ylabel("gained / lost per day")
    change_ax.set_xlabel("day (UTC)")
    change_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    change_ax.grid(axis="y", alpha=0.3)
    # Outside the plot, on the right: inside, it would hide the bars of the first days.
    change_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    # matplotlib's stubs leave these two untyped.
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    change_ax.xaxis.set_major_locator(locator)
    change_ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    fig.savefig(path, format="png")
