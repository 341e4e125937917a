"""The growth chart reads well from the first day of data to years of it: whole days on the x axis,
named with their month, none before the first day; whole numbers of followers on the y axes; every
value of every series visible (a bar, or a marker where the bar would have no height).

The figure is built from growth rows as `report growth` reads them (`reports.GrowthDay`) and
inspected through matplotlib's own axes.
"""

from __future__ import annotations

import calendar
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pytest
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.lines import Line2D

from followersync.cli.chart import CARETDOWNBASE, CARETUPBASE, draw_growth_chart, growth_figure
from followersync.cli.common import UsageProblem
from followersync.reports import GrowthDay
from tests.harness import run_cli, write_config
from tests.sim_support import LI

pytestmark = pytest.mark.cli_in_process

LAST_DAY = date(2026, 12, 1)
MONTHS = calendar.month_abbr[1:]


def growth(days: int) -> list[GrowthDay]:
    """`days` days up to LAST_DAY for two sources, as the first sync leaves them on day one (the
    baseline: nobody gained or lost); brand-ig never loses anyone, and gains nobody on Sundays."""
    rows = []
    first = LAST_DAY - timedelta(days=days - 1)
    for source, followers in (("acme-page", 250), ("brand-ig", 120)):
        for k in range(days):
            day = first + timedelta(days=k)
            if k == 0:
                gained = lost = 0
            elif source == "acme-page":
                gained, lost = k % 9, k % 4
            else:
                gained, lost = (0 if day.weekday() == 6 else 3), 0
            followers += gained - lost
            rows.append(GrowthDay(source, day, followers, gained, lost))
    return rows


def day_of(x: float) -> datetime:
    when: datetime = mdates.num2date(x)  # type: ignore[no-untyped-call]
    return when.astimezone(UTC)


def xs(line: Line2D) -> list[float]:
    return [round(x, 6) for x in np.asarray(line.get_xdata(), dtype=float).tolist()]


def carets_at(ax: Axes, marker: int) -> set[float]:
    """The x of every `marker` drawn on the zero line of `ax`."""
    found = set()
    for line in ax.get_lines():
        if line.get_marker() == marker:
            assert set(np.asarray(line.get_ydata()).tolist()) == {0}
            found |= set(xs(line))
    return found


def whole_ticks(ax: Axes) -> list[float]:
    low, high = ax.get_ylim()
    return [t for t in ax.get_yticks() if low <= t <= high]


@pytest.mark.parametrize("days", [1, 7, 90, 400])
def test_the_axes_show_whole_days_named_by_month_and_whole_numbers(days: int) -> None:
    rows = growth(days)
    fig = growth_figure(rows)
    followers_ax, change_ax = fig.axes
    first = LAST_DAY - timedelta(days=days - 1)

    ticks = [day_of(x) for x in change_ax.get_xticks()]
    assert 1 <= len(ticks) <= 12
    assert all(t.time() == time(0) for t in ticks), ticks
    assert all(first <= t.date() <= LAST_DAY for t in ticks), ticks
    assert list(followers_ax.get_xticks()) == list(change_ax.get_xticks())  # one x axis for both
    low, high = (day_of(x) for x in change_ax.get_xlim())
    assert low.date() >= first - timedelta(days=1) and high.date() <= LAST_DAY + timedelta(days=1)
    labels = [label.get_text() for label in change_ax.get_xticklabels()]
    assert len(labels) == len(ticks)
    assert all(any(month in label for month in MONTHS) for label in labels), labels
    assert str(ticks[0].year) in labels[0]  # the year, once

    for ax in (followers_ax, change_ax):
        values = whole_ticks(ax)
        assert len(values) >= 2, values
        assert all(v == round(v) for v in values), values
    assert 0 in whole_ticks(change_ax)

    fig.savefig(io.BytesIO(), format="png")  # and it draws


@pytest.mark.parametrize("days", [1, 7, 90, 400])
def test_every_value_of_every_series_is_visible(days: int) -> None:
    rows = growth(days)
    fig = growth_figure(rows)
    followers_ax, change_ax = fig.axes

    lines = {line.get_label(): line for line in followers_ax.get_lines()}
    for source in ("acme-page", "brand-ig"):
        line = lines[source]
        assert len(xs(line)) == days
        if days == 1:  # one point is no line: it needs its marker
            assert line.get_marker() == "o" and line.get_markersize() > 0

    # Where a bar has no height, a caret sits on the zero line: up for gained, down for lost.
    carets = {marker: carets_at(change_ax, marker) for marker in (CARETUPBASE, CARETDOWNBASE)}
    bars = {str(c.get_label()): c for c in change_ax.containers if isinstance(c, BarContainer)}
    assert sorted(bars) == sorted(
        f"{s} {kind}" for s in ("acme-page", "brand-ig") for kind in ("gained", "lost")
    )
    for label, container in bars.items():
        marker = CARETUPBASE if label.endswith("gained") else CARETDOWNBASE
        assert len(container.patches) == days
        for bar in container.patches:
            middle = round(bar.get_x() + bar.get_width() / 2, 6)
            assert bar.get_height() != 0 or middle in carets[marker], (label, middle)
    if days == 1:  # the first sync's day: every bar has height 0, every series shows as its carets
        assert all(bar.get_height() == 0 for c in bars.values() for bar in c.patches)


def test_a_page_without_followers_yet_counts_from_zero() -> None:
    fig = growth_figure([GrowthDay("new-page", LAST_DAY, 0, 0, 0)])
    followers_ax, _ = fig.axes
    values = whole_ticks(followers_ax)
    assert values[0] == 0 and len(values) >= 2, values
    assert all(v == round(v) for v in values)


def test_the_file_gets_the_format_its_name_says(tmp_path: Path) -> None:
    """A PNG for *.png (or no suffix), an SVG for *.svg; never PNG bytes in a file named otherwise
    (issue #22: `--output x.svg` used to get a PNG)."""
    rows = growth(10)
    for name in ("g.png", "G.PNG", "g"):
        draw_growth_chart(rows, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    draw_growth_chart(rows, tmp_path / "g.svg")
    svg = (tmp_path / "g.svg").read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    for name in ("g.jpg", "g.pdf", "g.png.txt"):
        with pytest.raises(UsageProblem, match=r"--output: .* the chart is written as \.png or \.svg"):
            draw_growth_chart(rows, tmp_path / name)
        assert not (tmp_path / name).exists()


def test_a_chart_name_of_another_kind_is_refused_before_anything_is_read(
    tmp_path: Path, sqlite_url: str
) -> None:
    config = write_config(tmp_path / "f.toml", sqlite_url, "http://127.0.0.1:9/api/v1", [LI])
    assert run_cli(["migrate"], config=config).returncode == 0
    done = run_cli(
        ["report", "growth", "--format", "png", "--output", str(tmp_path / "g.jpg")], config=config
    )
    assert done.returncode == 2  # with no data yet too: the name is wrong whatever the data
    assert "--output:" in done.stderr and "the chart is written as .png or .svg" in done.stderr
    assert not (tmp_path / "g.jpg").exists()
