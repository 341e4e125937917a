"""The growth chart (`report growth --format png`), drawn with matplotlib.

matplotlib (with numpy, fontTools and Pillow, about 125 MB) is the `charts` extra, not a dependency:
a worker's image never draws. `charts_missing()` tells the command to say how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from followersync import reports

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# The PNG's size in pixels: wide enough for a README, small enough to stay a few tens of kB.
CHART_WIDTH_PX, CHART_HEIGHT_PX, CHART_DPI = 1200, 700, 100


# At most this many days named on the x axis. Under FEW_DAYS days, a day is wide enough on the chart
# for a marker on the line and hatching on the bars; beyond, they would only blur them.
MAX_DAY_TICKS, FEW_DAYS = 10, 45
# matplotlib.markers.CARETUPBASE and CARETDOWNBASE: a triangle standing on (hanging from) its point.
CARETUPBASE, CARETDOWNBASE = 10, 11

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
    """Write the chart of `rows` (see `growth_figure`) to `path`: an SVG when its name ends in .svg,
    else a PNG. Any other suffix is refused first (one line, exit 2), nothing written."""
    fmt = chart_format(path)  # before drawing: a refused name costs nothing
    growth_figure(rows).savefig(path, format=fmt)


def chart_format(path: Path) -> str:
    """What `path` asks for: `svg` for *.svg (a vector image, sharp at any size, for web pages and
    READMEs), `png` for *.png or no suffix. Another suffix would get bytes it does not name (a PNG in
    `x.jpg` opens as a broken image, or not at all), so it is a usage error."""
    # Here rather than in the command's module: cli/common is below both, and the chart is what writes.
    from followersync.cli.common import UsageProblem

    suffix = path.suffix.lower()
    if suffix in ("", ".png"):
        return "png"
    if suffix == ".svg":
        return "svg"
    raise UsageProblem(f"--output: {path} ends in {path.suffix}; the chart is written as .png or .svg")


def growth_figure(rows: Sequence[reports.GrowthDay]) -> Figure:
    """Followers per source as lines above, gained and lost per day as bars below, for `rows` (one
    source or more, one day or years of them).

    It has to read well from the first sync on: whole days on the x axis, named with their month and
    never a day before the data; whole numbers on the y axes; every series visible, even on a single
    day or a day when nobody came or left (markers where a line or a bar would show nothing).

    matplotlib is imported here, not at the top: it takes a moment to load and only png needs it. The
    figure is built without pyplot, so no GUI backend or global state is involved.
    """
    from matplotlib.figure import Figure

    by_source: dict[str, list[reports.GrowthDay]] = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)
    first, last = min(r.day for r in rows), max(r.day for r in rows)
    fig = Figure(
        figsize=(CHART_WIDTH_PX / CHART_DPI, CHART_HEIGHT_PX / CHART_DPI), dpi=CHART_DPI, layout="constrained"
    )
    followers_ax, change_ax = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    # Bars of several sources on one day sit side by side within the day.
    width = 0.8 / len(by_source)
    few_days = (last - first).days < FEW_DAYS
    for i, (name, series) in enumerate(by_source.items()):
        color, shift = f"C{i}", (i - (len(by_source) - 1) / 2) * width
        _plot_followers(followers_ax, name, series, color)
        label = f"{name} " if len(by_source) > 1 else ""
        _plot_changes(change_ax, label, series, color, shift, width, few_days)

    when = f"on {first}" if first == last else f"per day, {first} to {last}"
    fig.suptitle(f"Followers {when} (UTC)", fontsize="x-large")
    followers_ax.set_ylabel("followers (end of day)")
    followers_ax.grid(alpha=0.3)
    title = None if len(by_source) == 1 else "source"
    followers_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title=title)
    change_ax.axhline(0, color="0.3", linewidth=0.8)
    change_ax.set_ylabel("gained / lost per day")
    change_ax.set_xlabel("day (UTC)")
    change_ax.grid(axis="y", alpha=0.3)
    # Outside the plot, on the right: inside, it would hide the bars of the first days.
    change_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    _whole_numbers(followers_ax, *_followers_range(*followers_ax.get_ylim()))
    low, high = change_ax.get_ylim()
    _whole_numbers(change_ax, min(low, -1), max(high, 1))  # room for the carets of a 0 on both sides
    _day_axis(change_ax, first, last)  # the axes share x: the followers' ticks are the same days
    return fig


def _plot_followers(ax: Axes, name: str, series: Sequence[reports.GrowthDay], color: str) -> None:
    """One line; with markers on its days when it has few of them (one day is a point, not a line)."""
    ax.plot(
        [_day_number(d.day) for d in series],
        [d.followers for d in series],
        color=color,
        linewidth=2,
        marker="o" if len(series) < FEW_DAYS else None,
        markersize=5,
        label=name,
    )


def _plot_changes(
    ax: Axes,
    label: str,
    series: Sequence[reports.GrowthDay],
    color: str,
    shift: float,
    width: float,
    few_days: bool,
) -> None:
    """Gained up and lost down as bars, `shift` days off the day's middle."""
    at = [_day_number(d.day) + shift for d in series]
    gained, lost = [d.gained for d in series], [-d.lost for d in series]
    # Hatching tells lost from gained without colour, but on bars a pixel or two wide it is noise.
    hatch = "//" if few_days else None
    ax.bar(at, gained, width=width, color=color, label=f"{label}gained")
    ax.bar(at, lost, width=width, color=color, alpha=0.4, hatch=hatch, label=f"{label}lost")
    # A day when nobody came (or left) has a bar of height 0, which shows nothing: a caret on the
    # zero line says 0 instead, standing up for gained and hanging down for lost.
    size = 8 if few_days else 3
    _zero_marks(ax, at, gained, {"marker": CARETUPBASE, "markersize": size, "color": color})
    _zero_marks(ax, at, lost, {"marker": CARETDOWNBASE, "markersize": size, "color": color, "alpha": 0.6})


def _zero_marks(ax: Axes, at: Sequence[float], values: Sequence[int], style: dict[str, Any]) -> None:
    zeros = [x for x, value in zip(at, values, strict=True) if value == 0]
    if zeros:
        ax.plot(zeros, [0] * len(zeros), linestyle="none", **style)


def _whole_numbers(ax: Axes, low: float, high: float) -> None:
    """The y axis from `low` to `high`, ticked on whole numbers only: counts have no fractions."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    ax.set_ylim(low, high)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _followers_range(low: float, high: float) -> tuple[float, float]:
    """matplotlib's range for the followers, unless the counts are flat (one day, or no change):
    then it zooms to ±0.05 around them, so room for 4 followers instead, none of them negative."""
    if high - low >= 4:
        return low, high
    low = max(-0.5, round((low + high) / 2) - 2)
    return low, low + 4


def _day_axis(ax: Axes, first: date, last: date) -> None:
    """The x axis from `first` to `last`, half a day of room on each side (the bars of a day are
    centred on it), ticked on the days `_day_ticks` picks."""
    ax.set_xlim(_day_number(first) - 0.5, _day_number(last) + 0.5)
    ticks = _day_ticks(first, last)
    ax.set_xticks([_day_number(d) for d in ticks], _tick_labels(ticks))


def _day_ticks(first: date, last: date) -> list[date]:
    """At most MAX_DAY_TICKS days from `first` to `last` to tick: every day or every few days from
    the first, or (for months of data) the first day of every month or every few months."""
    days = (last - first).days + 1
    for step in (1, 2, 3, 7, 14):
        if days <= step * MAX_DAY_TICKS:
            return [first + timedelta(days=k) for k in range(0, days, step)]
    starts = _month_starts(first, last)
    for step in (1, 2, 3, 6, 12, 24, 60, 120):
        # Months on the calendar's grid (Jan, Apr, Jul, Oct), not counted from the first day.
        ticks = [d for d in starts if (d.year * 12 + d.month - 1) % step == 0]
        if len(ticks) <= MAX_DAY_TICKS:
            return ticks
    return starts[:: len(starts) // MAX_DAY_TICKS + 1]  # centuries


def _tick_labels(ticks: Sequence[date]) -> list[str]:
    """A tick's month and day ("Nov 30"), or only its month when the ticks are months apart; the
    year under the first tick and wherever it changes."""
    by_month = len(ticks) > 1 and (ticks[1] - ticks[0]).days >= 28
    labels, year = [], None
    for d in ticks:
        label = f"{d:%b}" if by_month else f"{d:%b} {d.day}"
        labels.append(label if d.year == year else f"{label}\n{d.year}")
        year = d.year
    return labels


def _month_starts(first: date, last: date) -> list[date]:
    start = date(first.year, first.month, 1)
    if start < first:
        start = _next_month(start)
    starts = []
    while start <= last:
        starts.append(start)
        start = _next_month(start)
    return starts


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _day_number(day: date) -> float:
    """Midnight (UTC) of `day` where matplotlib puts it on a date axis."""
    from matplotlib import dates as mdates

    # matplotlib's stubs leave date2num untyped.
    return float(mdates.date2num(datetime(day.year, day.month, day.day)))  # type: ignore[no-untyped-call]
