"""The report's charts, drawn by matplotlib (Agg, no pyplot: every call has a Figure of its own).

Pure functions from figures and already translated labels to SVG or PNG bytes. The colours have at
least 3:1 contrast against white (WCAG 1.4.11) and new participants are hatched as well as
coloured, so that the chart does not rely on colour alone. Every chart is shown with alt text and
a table of the same figures (see web/pages.py).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.ticker import Locator

Format = Literal["svg", "png"]

INK = "#1b1b1b"
GRID = "#d0d7de"
RETURNING = "#1f4e79"  # 9.0:1 on white
NEW = "#a34700"  # 6.0:1 on white; hatched
TARGET = "#a34700"
BARS = "#1f4e79"
WIDTH = 8.0  # inches
MAX_LABELS = 16  # session dates shown on the x axis before they are thinned out


@dataclass(frozen=True, slots=True)
class SessionBar:
    label: str  # the session's date, e.g. "8.1."
    new: int
    returning: int


def _figure(height: float = 3.6) -> Figure:
    # matplotlib is imported on first use: it costs a second and a half of the bot's start-up.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _integer_ticks() -> Locator:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _style(axes: object) -> None:
    from matplotlib.axes import Axes

    assert isinstance(axes, Axes)
    axes.spines["top"].set_visible(False)
    axes.spines["right"].set_visible(False)
    for side in ("left", "bottom"):
        axes.spines[side].set_color(INK)
    axes.tick_params(colors=INK, labelsize=10)
    axes.set_axisbelow(True)


def _render(figure: Figure, fmt: Format) -> bytes:
    out = io.BytesIO()
    if fmt == "svg":
        figure.savefig(out, format="svg", metadata={"Date": None})
    else:
        figure.savefig(out, format="png", dpi=110)
    return out.getvalue()


def _thin(labels: Sequence[str]) -> list[str]:
    """Every n-th label only when there are many, so that they do not overlap."""
    step = max(1, -(-len(labels) // MAX_LABELS))
    return [label if index % step == 0 else "" for index, label in enumerate(labels)]


def participation_chart(
    bars: Sequence[SessionBar],
    *,
    returning_label: str,
    new_label: str,
    axis_label: str,
    fmt: Format = "svg",
) -> bytes:
    """Participants per session as stacked bars: returning below, new (hatched) on top."""
    figure = _figure()
    axes = figure.add_subplot()
    _style(axes)
    positions = list(range(len(bars)))
    returning = [b.returning for b in bars]
    new = [b.new for b in bars]
    axes.bar(positions, returning, color=RETURNING, edgecolor="white", linewidth=0.6, label=returning_label)
    axes.bar(
        positions,
        new,
        bottom=returning,
        color=NEW,
        edgecolor="white",
        linewidth=0.6,
        hatch="///",
        label=new_label,
    )
    axes.set_xticks(positions, _thin([b.label for b in bars]))
    axes.set_ylabel(axis_label, color=INK)
    axes.yaxis.set_major_locator(_integer_ticks())
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_xlim(-0.6, max(len(bars), 1) - 0.4)
    if bars:
        axes.set_ylim(0, max(1, max(b.new + b.returning for b in bars)) * 1.15)
    axes.legend(loc="upper left", frameon=False, ncols=2, labelcolor=INK)
    return _render(figure, fmt)


def cadence_chart(
    months: Sequence[tuple[str, int]],
    target: float,
    *,
    sessions_label: str,
    target_label: str,
    axis_label: str,
    fmt: Format = "svg",
) -> bytes:
    """Sessions per month as bars, the target (sessions a month) as a dashed line."""
    figure = _figure()
    axes = figure.add_subplot()
    _style(axes)
    positions = list(range(len(months)))
    axes.bar(positions, [count for _, count in months], color=BARS, width=0.7, label=sessions_label)
    axes.axhline(target, color=TARGET, linestyle=(0, (6, 3)), linewidth=2.2, label=target_label)
    axes.set_xticks(positions, _thin([label for label, _ in months]))
    if len(months) > 6:
        for tick in axes.get_xticklabels():
            tick.set_rotation(45)
            tick.set_horizontalalignment("right")
    axes.set_ylabel(axis_label, color=INK)
    axes.yaxis.set_major_locator(_integer_ticks())
    axes.grid(axis="y", color=GRID, linewidth=0.8)
    axes.set_xlim(-0.6, max(len(months), 1) - 0.4)
    axes.set_ylim(0, max([target, *(count for _, count in months)]) * 1.25 + 0.5)
    axes.legend(loc="upper left", frameon=False, ncols=2, labelcolor=INK)
    return _render(figure, fmt)


def feedback_chart(options: Sequence[tuple[str, int, str]], *, axis_label: str, fmt: Format = "svg") -> bytes:
    """Answers per option of one question as horizontal bars: (label, count, the text by the bar)."""
    figure = _figure(height=0.45 * len(options) + 1.0)
    axes = figure.add_subplot()
    _style(axes)
    positions = list(range(len(options)))
    counts = [count for _, count, _ in options]
    axes.barh(positions, counts, color=BARS, height=0.65)
    axes.set_yticks(positions, [label for label, _, _ in options])
    axes.invert_yaxis()
    for position, (_, count, text) in zip(positions, options, strict=True):
        axes.annotate(
            text,
            (count, position),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            color=INK,
            fontsize=10,
        )
    axes.set_xlabel(axis_label, color=INK)
    axes.xaxis.set_major_locator(_integer_ticks())
    axes.set_xlim(0, max([1, *counts]) * 1.3)
    axes.grid(axis="x", color=GRID, linewidth=0.8)
    return _render(figure, fmt)
