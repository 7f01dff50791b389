"""Charts of the progress report as inline SVG: laid out here (positions in pixels, round tick
values), drawn by the Jinja2 macros of `templates/progress_charts.svg.j2` in the page's own
environment (`progress.draw_chart`). Each layout names its macro (`draw`).

A province's report is made after every publication that changes its rows, 34 to 63 of them for a
national month, so its charts are drawn without matplotlib (whose four figures took 0.25 s a report,
most of its cost). The quality report's charts are drawn the same way (`quality_charts.py`).
"""

from __future__ import annotations

import math

from markupsafe import Markup

from pipelines import rules

_COLOURS = {"Chưa đạt": "#bdbdbd", "NTM": "#66bb6a", "NTM nâng cao": "#1e88e5", "NTM hiện đại": "#8e24aa",
            "NTM kiểu mẫu": "#f4511e"}
NO_DATA = "Chưa có số liệu"
_CHAR = 6.5  # width of a 12 px character, roughly, to leave room for labels


def drawn(macros, layout: dict | None) -> Markup:
    """`layout` as inline SVG, by the macro of `macros` (a chart template's module) it names in
    `draw`; nothing for no layout. The progress and quality reports both draw this way."""
    return Markup("") if layout is None else Markup(getattr(macros, layout["draw"])(layout))


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (steps of 1, 2, 2.5 or 5 × 10^k) covering low..high."""
    if high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _degrees(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def recognised_by_month(months: list[dict], fmt) -> dict:
    """Communes recognised (≥ NTM) at each month's end. Up to 24 months each bar carries its number;
    beyond, a value axis does."""
    values = [m.get("so_xa_dat_chuan") or 0 for m in months]
    left, right, top, base = 56, 710, 18, 222
    top_value = max(values + [1]) * 1.15
    slot = (right - left) / max(len(values), 1)
    step = max(1, math.ceil(len(values) / 12))
    bars = []
    for i, (month, value) in enumerate(zip(months, values)):
        height = (base - top) * value / top_value
        bars.append({"x": round(left + i * slot + slot * 0.1, 1), "w": round(slot * 0.8, 1),
                     "y": round(base - height, 1), "h": round(height, 1), "name": month["thang"],
                     "text": fmt(value), "tick": i % step == 0})
    numbers = len(values) <= 24
    ticks = [] if numbers else [{"y": round(base - (base - top) * v / top_value, 1), "text": fmt(v)}
                                for v in nice_ticks(0, top_value) if v == int(v)]
    return {"draw": "columns", "width": 720, "height": 290, "left": left, "right": right, "base": base,
            "bars": bars, "numbers": numbers, "ticks": ticks, "colour": _COLOURS["NTM"],
            "axis": "số xã đạt chuẩn", "label": "Số xã đạt chuẩn NTM theo tháng"}


def horizontal_bars(items: list[tuple[str, float]], fmt, label: str, colour: str, char: float = _CHAR) -> dict:
    """One bar per (label, value), top to bottom, each carrying its number: the criteria bands,
    OCOP stars; `char` is a label character's width in pixels (wider for capitals)."""
    longest = max((len(name) for name, _ in items), default=4)
    left, top, row = 12 + char * longest, 8, 26
    length = 620 - left - 60
    values = [value or 0 for _, value in items]
    most = max(values + [1])
    bars = [{"y": top + i * row + 3, "h": row - 6, "w": round(length * value / most, 1), "name": name,
             "text": fmt(value)} for i, ((name, _), value) in enumerate(zip(items, values))]
    return {"draw": "rows", "width": 620, "height": top * 2 + row * len(items), "left": round(left, 1),
            "top": top, "bottom": top + row * len(items), "bars": bars, "colour": colour, "label": label}


def title_map(communes: list[dict]) -> tuple[dict | None, int]:
    """Each commune with coordinates as a point coloured by its title, degrees of longitude shrunk
    by the cosine of the latitude; returns the layout (None when no commune has coordinates) and
    how many communes had none."""
    placed = [c for c in communes if c.get("vi_do") is not None and c.get("kinh_do") is not None]
    if not placed:
        return None, len(communes)
    lons, lats = [c["kinh_do"] for c in placed], [c["vi_do"] for c in placed]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    pad_lon, pad_lat = max((east - west) * 0.05, 0.02), max((north - south) * 0.05, 0.02)
    west, east, south, north = west - pad_lon, east + pad_lon, south - pad_lat, north + pad_lat
    left, top, box_w, box_h = 56, 10, 430, 520
    shrink = max(0.2, math.cos(math.radians((south + north) / 2)))
    scale = min(box_w / (east - west), box_h * shrink / (north - south))  # pixels per degree of longitude
    right, bottom = left + scale * (east - west), top + scale / shrink * (north - south)

    def x(lon: float) -> float:
        return round(left + (lon - west) * scale, 1)

    def y(lat: float) -> float:
        return round(bottom - (lat - south) * scale / shrink, 1)

    order = sorted(rules.title_ranks(), key=lambda t: (rules.title_ranks()[t], t)) + [NO_DATA]
    groups = []
    for title in order + sorted({c.get("danh_hieu") for c in placed} - set(order) - {None}):
        points = [(x(c["kinh_do"]), y(c["vi_do"])) for c in placed if (c.get("danh_hieu") or NO_DATA) == title]
        if points:
            groups.append({"name": title, "count": len(points), "points": points,
                           "colour": _COLOURS.get(title, "#ffffff")})
    chart = {"draw": "points", "width": round(right) + 190, "height": round(bottom) + 40, "left": left, "right": round(right, 1),
             "top": top, "bottom": round(bottom, 1), "legend_x": round(right) + 14, "groups": groups,
             "x_ticks": [{"at": x(v), "text": _degrees(v)} for v in nice_ticks(west, east, 4)],
             "y_ticks": [{"at": y(v), "text": _degrees(v)} for v in nice_ticks(south, north, 5)],
             "label": "Bản đồ xã theo danh hiệu"}
    return chart, len(communes) - len(placed)
