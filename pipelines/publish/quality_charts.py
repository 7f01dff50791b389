"""Charts of the quality report as inline SVG: laid out here (positions in pixels), drawn by the
Jinja2 macros of `templates/quality_charts.svg.j2` (`draw` names the macro), as the progress report's
are (`progress_charts.py`). Until issue 12 matplotlib drew them: its import and four figures took
about 2 s of every run, more than the rest of the report.
"""

from __future__ import annotations

from pipelines.publish.progress_charts import horizontal_bars, nice_ticks

ERROR, WARNING, OK = "#c62828", "#ef8f00", "#2e7d32"
_PALE = "#fff3e0"  # the completeness scale's middle: the target


def issues_by_check(by_check: list[dict], label: str, count) -> dict | None:
    """Ongoing issues per check code (the 15 largest), as horizontal bars coloured by severity;
    `count` writes a number as the page does."""
    if not by_check:
        return None
    rows = by_check[:15]
    chart = horizontal_bars([(row["ma_kiem_tra"], row["so_van_de"]) for row in rows], count, label, WARNING,
                            char=8.4)  # check codes are capitals
    for bar, row in zip(chart["bars"], rows):
        bar["colour"] = ERROR if row["muc_do"] == "error" else WARNING
    return chart


def issues_over_runs(runs: list[dict], count) -> dict | None:
    """Open errors and warnings after each of the recent runs, stacked."""
    if not runs:
        return None
    left, right, top, base = 56, 710, 26, 200
    most = max([run["loi"] + run["canh_bao"] for run in runs] + [1])
    ticks = [v for v in nice_ticks(0, most) if v == int(v)]
    scale = (base - top) / max(ticks[-1], most)
    slot = (right - left) / len(runs)
    step = max(1, len(runs) // 10)
    bars = []
    for i, run in enumerate(runs):
        errors, warnings = run["loi"] * scale, run["canh_bao"] * scale
        bars.append({"x": round(left + i * slot + slot * 0.1, 1), "w": round(slot * 0.8, 1),
                     "errors_y": round(base - errors, 1), "errors_h": round(errors, 1),
                     "warnings_y": round(base - errors - warnings, 1), "warnings_h": round(warnings, 1),
                     "name": run["thoi_diem"][:16].replace("T", " "),
                     "text": f"{count(run['loi'])} lỗi, {count(run['canh_bao'])} cảnh báo", "tick": i % step == 0})
    return {"draw": "stacked", "width": 720, "height": 300, "left": left, "right": right, "top": top, "base": base,
            "bars": bars, "ticks": [{"y": round(base - v * scale, 1), "text": count(v)} for v in ticks],
            "error": ERROR, "warning": WARNING, "axis": "vấn đề mở",
            "label": "Vấn đề mở sau mỗi lần chạy (open issues after each run)"}


def completeness_colour(value: float, target: float) -> str:
    """Red at 0 through pale at the target to green at 100, linear on each side of the target."""
    centre = min(max(target, 1), 99)
    low, high, share = ((ERROR, _PALE, value / centre) if value < centre
                        else (_PALE, OK, (value - centre) / (100 - centre)))
    share = min(max(share, 0.0), 1.0)
    mixed = [round(int(low[i:i + 2], 16) + (int(high[i:i + 2], 16) - int(low[i:i + 2], 16)) * share)
             for i in (1, 3, 5)]
    return "#" + "".join(f"{channel:02x}" for channel in mixed)


def completeness_heatmap(history: list[dict], target: float) -> dict | None:
    """Completeness of every province over its recent periods: one row per province, one cell per
    period, green at or above the target, red below, shade by how far; no cell without a figure."""
    if not history:
        return None
    provinces = sorted({(row["ma_don_vi"], row["ten_don_vi"] or row["ma_don_vi"]) for row in history})
    periods = sorted({row["ky"] for row in history})
    labels = [f"{name} ({code})" for code, name in provinces]
    left = 12 + 5.5 * max(len(label) for label in labels)
    top, cell_h = 10, 16
    cell_w = min(40.0, max(14.0, 560 / len(periods)))
    bottom = top + cell_h * len(provinces)
    row_of = {code: i for i, (code, _) in enumerate(provinces)}
    column_of = {ky: j for j, ky in enumerate(periods)}
    cells = [{"x": round(left + column_of[row["ky"]] * cell_w, 1), "y": top + row_of[row["ma_don_vi"]] * cell_h,
              "colour": completeness_colour(float(row["ty_le_day_du"]), target),
              "text": f"{row['ten_don_vi'] or row['ma_don_vi']}, {row['ky']}: {row['ty_le_day_du']:g}%"}
             for row in history if row["ty_le_day_du"] is not None]
    right = left + cell_w * len(periods)
    legend = [{"x": round(right + 24 + i * 12, 1), "colour": completeness_colour(v, target), "value": v}
              for i, v in enumerate(range(0, 101, 10))]
    return {"draw": "heatmap", "width": round(right + 24 + 12 * 11 + 20), "height": bottom + 70,
            "left": round(left, 1), "top": top, "bottom": bottom, "cell_w": round(cell_w, 1), "cell_h": cell_h,
            "rows": [{"y": top + i * cell_h, "name": label} for i, label in enumerate(labels)],
            "columns": [{"x": round(left + (j + 0.5) * cell_w, 1), "name": ky} for j, ky in enumerate(periods)],
            "cells": cells, "legend": legend, "legend_y": top, "target": f"{target:g}",
            "label": "Tỷ lệ đầy đủ theo kỳ, cấp tỉnh (completeness over recent periods)"}
