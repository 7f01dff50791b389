"""Charts of the progress report as inline SVG (matplotlib, offline: `charts.py`)."""

from __future__ import annotations

import math

from pipelines import rules
from pipelines.publish.charts import figure, styled as _styled, svg as _svg

_COLOURS = {"Chưa đạt": "#bdbdbd", "NTM": "#66bb6a", "NTM nâng cao": "#1e88e5", "NTM hiện đại": "#8e24aa",
            "NTM kiểu mẫu": "#f4511e"}
NO_DATA = "Chưa có số liệu"


def _figure(width: float, height: float, left: float, bottom: float):
    """A figure with fixed margins in inches and whole-number ticks (counts of communes and products)."""
    from matplotlib.ticker import MaxNLocator

    fig, axes = figure(width, height, left, bottom)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))
    return fig, axes


def _label_bars(axes, bars, texts: list[str], horizontal: bool = False) -> None:
    for bar, text in zip(bars, texts):
        if horizontal:
            axes.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                          textcoords="offset points", va="center", fontsize=8)
        else:
            axes.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                          textcoords="offset points", ha="center", fontsize=8)


@_styled
def recognised_by_month(months: list[dict], fmt) -> str:
    """Communes recognised (≥ NTM) at each month's end."""
    figure, axes = _figure(7.5, 3.0, left=0.6, bottom=0.75)
    labels = [m["thang"] for m in months]
    values = [m.get("so_xa_dat_chuan") or 0 for m in months]
    bars = axes.bar(range(len(labels)), values, color=_COLOURS["NTM"])
    if len(labels) <= 24:  # each bar carries its number: a value axis would repeat them (and its ticks cost)
        _label_bars(axes, bars, [fmt(v) for v in values])
        axes.set_yticks([])
        axes.spines["left"].set_visible(False)
    step = max(1, math.ceil(len(labels) / 12))
    axes.set_xticks(range(0, len(labels), step), [labels[i] for i in range(0, len(labels), step)],
                    rotation=45, ha="right")
    axes.set_ylabel("số xã đạt chuẩn")
    axes.set_ylim(0, max(values + [1]) * 1.15)
    return _svg(figure, "Số xã đạt chuẩn NTM theo tháng")


@_styled
def horizontal_bars(items: list[tuple[str, float]], fmt, label: str, colour: str) -> str:
    """One bar per (label, value), top to bottom: the criteria bands, OCOP stars."""
    longest = max((len(name) for name, _ in items), default=4)
    figure, axes = _figure(6.5, 0.3 * len(items) + 0.6, left=0.2 + 0.075 * longest, bottom=0.4)
    names = [name for name, _ in items][::-1]
    values = [value or 0 for _, value in items][::-1]
    bars = axes.barh(names, values, color=colour)
    _label_bars(axes, bars, [fmt(v) for v in values], horizontal=True)
    axes.set_xlim(0, max(values + [1]) * 1.15)
    axes.xaxis.set_visible(False)  # each bar carries its number
    axes.spines["bottom"].set_visible(False)
    return _svg(figure, label)


@_styled
def title_map(communes: list[dict]) -> tuple[str, int]:
    """Each commune with coordinates as a point coloured by its title; returns the SVG and how many
    communes had no coordinates in the reference."""
    placed = [c for c in communes if c.get("vi_do") is not None]
    if not placed:
        return "", len(communes)
    from matplotlib.ticker import AutoLocator

    figure, axes = _figure(6.5, 6.0, left=0.7, bottom=0.5)
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_locator(AutoLocator())  # degrees, not counts
    order = sorted(rules.title_ranks(), key=lambda t: (rules.title_ranks()[t], t)) + [NO_DATA]
    for title in order:
        group = [c for c in placed if (c.get("danh_hieu") or NO_DATA) == title]
        if group:
            axes.scatter([c["kinh_do"] for c in group], [c["vi_do"] for c in group], s=28,
                         color=_COLOURS.get(title, "#ffffff"), edgecolors="#424242", linewidths=0.4,
                         label=f"{title} ({len(group)})")
    middle = sum(c["vi_do"] for c in placed) / len(placed)
    axes.set_aspect(1 / max(0.2, math.cos(math.radians(middle))))  # degrees of longitude shrink with latitude
    axes.set_xlabel("kinh độ")
    axes.set_ylabel("vĩ độ")
    axes.legend(loc="best", fontsize=8, title="Danh hiệu", title_fontsize=8)
    return _svg(figure, "Bản đồ xã theo danh hiệu"), len(communes) - len(placed)
