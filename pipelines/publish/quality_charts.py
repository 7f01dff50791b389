"""The quality report's charts (inline SVG through `charts`)."""

from __future__ import annotations

from pipelines.publish.charts import ERROR, OK, WARNING, figure, styled, svg


@styled
def issues_by_check(by_check: list[dict], label: str) -> str:
    """Ongoing issues per check code, as horizontal bars coloured by severity."""
    if not by_check:
        return ""
    rows = list(reversed(by_check[:15]))
    fig, axes = figure(7.5, 0.3 * len(rows) + 0.6)
    values = [row["so_van_de"] for row in rows]
    bars = axes.barh(range(len(rows)), values,
                     color=[ERROR if row["muc_do"] == "error" else WARNING for row in rows])
    axes.set_yticks(range(len(rows)), [row["ma_kiem_tra"] for row in rows])
    for bar, value in zip(bars, values):
        axes.annotate(f"{value:,}".replace(",", "."), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                      xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    axes.set_xlim(0, max(values) * 1.15)
    axes.set_xlabel("vấn đề đang mở (ongoing issues: unit × check)")
    return svg(fig, label)


@styled
def issues_over_runs(runs: list[dict]) -> str:
    """Open errors and warnings after each of the recent runs, stacked."""
    if not runs:
        return ""
    fig, axes = figure(7.5, 2.4)
    labels = [run["thoi_diem"][:16].replace("T", " ") for run in runs]
    errors = [run["loi"] for run in runs]
    warnings = [run["canh_bao"] for run in runs]
    axes.bar(range(len(runs)), errors, color=ERROR, label="lỗi (errors)")
    axes.bar(range(len(runs)), warnings, bottom=errors, color=WARNING, label="cảnh báo (warnings)")
    step = max(1, len(labels) // 10)
    axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=30, ha="right", fontsize=7)
    axes.set_ylabel("vấn đề mở")
    axes.legend(frameon=False, fontsize=8)
    return svg(fig, "Vấn đề mở sau mỗi lần chạy (open issues after each run)")


@styled
def completeness_heatmap(history: list[dict], target: float) -> str:
    """Completeness of every province over its recent periods: one row per province, one cell per
    period, green at or above the target, red below, shade by how far."""
    if not history:
        return ""
    from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm

    provinces = sorted({(row["ma_don_vi"], row["ten_don_vi"] or row["ma_don_vi"]) for row in history})
    periods = sorted({row["ky"] for row in history})
    grid = [[float("nan")] * len(periods) for _ in provinces]
    row_of = {code: i for i, (code, _) in enumerate(provinces)}
    column_of = {ky: j for j, ky in enumerate(periods)}
    for row in history:
        if row["ty_le_day_du"] is not None:
            grid[row_of[row["ma_don_vi"]]][column_of[row["ky"]]] = float(row["ty_le_day_du"])
    fig, axes = figure(min(1.2 + 0.45 * len(periods), 9), 0.6 + 0.22 * len(provinces))
    colours = LinearSegmentedColormap.from_list("completeness", [ERROR, "#fff3e0", OK])
    image = axes.imshow(grid, aspect="auto", cmap=colours,
                        norm=TwoSlopeNorm(vmin=0, vcenter=min(max(target, 1), 99), vmax=100))
    axes.set_yticks(range(len(provinces)), [f"{name} ({code})" for code, name in provinces], fontsize=7)
    axes.set_xticks(range(len(periods)), periods, rotation=45, ha="right", fontsize=7)
    fig.colorbar(image, ax=axes, fraction=0.04, pad=0.02, label=f"% đầy đủ (mục tiêu {target:g}%)")
    return svg(fig, "Tỷ lệ đầy đủ theo kỳ, cấp tỉnh (completeness over recent periods)")
