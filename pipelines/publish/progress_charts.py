"""Charts of the progress report as inline SVG, drawn by matplotlib's SVG backend (offline).

Figures are built with `matplotlib.figure.Figure` (no pyplot: no global state, no GUI backend).
Text stays text (`svg.fonttype: none`), so Vietnamese diacritics use the reader's fonts and the
page stays small; the XML prolog, the DOCTYPE (which names a DTD by URL) and the metadata block
are dropped, so the page makes no external reference.
"""

from __future__ import annotations

import functools
import io
import math

from pipelines import rules

_COLOURS = {"Chưa đạt": "#bdbdbd", "NTM": "#66bb6a", "NTM nâng cao": "#1e88e5", "NTM hiện đại": "#8e24aa",
            "NTM kiểu mẫu": "#f4511e"}
NO_DATA = "Chưa có số liệu"
_RC = {"svg.fonttype": "none", "svg.hashsalt": "ntm-progress", "font.size": 9,
       "axes.spines.top": False, "axes.spines.right": False}


def _styled(draw):
    """Draw inside the report's matplotlib settings: they apply when artists are made and saved."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)
    return wrapper


def _svg(figure, label: str) -> str:
    buffer = io.StringIO()
    # Fixed margins (set per chart) instead of bbox_inches="tight", which draws every figure twice.
    figure.savefig(buffer, format="svg",
                   metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)
    # Metadata block (Dublin Core, with namespace URLs in rdf:resource): not needed inline.
    start, end = text.find("<metadata>"), text.find("</metadata>")
    if start != -1 and end != -1:
        text = text[:start] + text[end + len("</metadata>"):]
    return text


def _figure(width: float, height: float, left: float, bottom: float):
    """A figure of width × height inches with margins in inches (left for labels, bottom for ticks)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=left / width, bottom=bottom / height, right=1 - 0.3 / width, top=1 - 0.15 / height)
    axes = figure.add_subplot()
    for axis in (axes.xaxis, axes.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))  # counts of communes and products
    return figure, axes


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
    if len(labels) <= 24:
        _label_bars(axes, bars, [fmt(v) for v in values])
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
