"""The quality report of a run: JSON for machines, one offline HTML page for people.

Order of reading: whether publication was withheld and by which checks, the blocking issues,
then warnings (and waived issues), then completeness and timeliness of reporting by province and
district. The JSON holds the same content as the page. The page has no external resource: styles
inline, charts as inline SVG and CSS bars, so it opens from a file or an e-mail attachment.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from pathlib import Path

import duckdb

from pipelines.settings import HomePaths

_ISSUE_FIELDS = ["issue_id", "ma_kiem_tra", "muc_do", "cap", "ma_don_vi", "ky", "mo_ta", "trang_thai",
                 "gia_tri_bao_cao", "gia_tri_tinh_toan", "first_seen", "last_seen", "waived_by", "waiver_reason"]
COMPLETENESS_TARGET = 90.0  # WHO Data Quality Review defaults; the dbt vars override them per run
TIMELINESS_TARGET = 75.0
MAX_ISSUE_ROWS = 500  # per HTML table; the JSON has every issue
HISTORY_PERIODS = 12


def _rows(conn, sql: str, params=None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _table_exists(conn, name: str, schema: str = "main") -> bool:
    return conn.execute("select count(*) from information_schema.tables where table_schema=? and table_name=?",
                        [schema, name]).fetchone()[0] > 0


def _by_check(issues: list[dict]) -> list[dict]:
    counts: dict[str, dict] = {}
    for issue in issues:
        entry = counts.setdefault(issue["ma_kiem_tra"], {
            "ma_kiem_tra": issue["ma_kiem_tra"], "muc_do": issue["muc_do"], "so_van_de": 0, "vi_du": issue["mo_ta"]})
        entry["so_van_de"] += 1
    return sorted(counts.values(), key=lambda e: (-e["so_van_de"], e["ma_kiem_tra"]))


def _completeness(conn) -> tuple[list[dict], list[dict], float, float]:
    """Latest period per province and district, the recent history of provinces, and the targets."""
    if not _table_exists(conn, "audit_reporting_completeness", "audit"):
        return [], [], COMPLETENESS_TARGET, TIMELINESS_TARGET
    fields = """cap, ma_don_vi, ten_don_vi, ma_tinh, ky, loai_ky, cast(han_nop as varchar) as han_nop,
                so_xa_phai_bao_cao, so_xa_da_bao_cao, so_xa_dung_han, ty_le_day_du, ty_le_dung_han"""
    latest = _rows(conn, f"""
        select {fields} from audit.audit_reporting_completeness
        qualify row_number() over (partition by cap, ma_don_vi order by thang_ky desc, so_thang_ky_nho) = 1
        order by ma_tinh, cap desc, ma_don_vi""".replace(
        "so_thang_ky_nho", "case loai_ky when 'thang' then 0 when 'quy' then 1 when 'nua_nam' then 2 else 3 end"))
    history = _rows(conn, f"""
        select {fields} from audit.audit_reporting_completeness where cap = 'tinh'
        qualify row_number() over (partition by ma_don_vi order by thang_ky desc, loai_ky) <= {HISTORY_PERIODS}
        order by ma_don_vi, ky""")
    targets = conn.execute("""select any_value(muc_tieu_day_du), any_value(muc_tieu_dung_han)
                              from audit.audit_reporting_completeness""").fetchone()
    return (latest, history, targets[0] if targets[0] is not None else COMPLETENESS_TARGET,
            targets[1] if targets[1] is not None else TIMELINESS_TARGET)


def build_report(conn: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    fields = ", ".join(_ISSUE_FIELDS)
    issues = _rows(conn, f"select {fields} from main.quality_issues where trang_thai <> 'resolved'")
    claims = _rows(conn, "select count(*) as so_chi_so, coalesce(count_if(khop), 0) as so_khop from main.claim_reconciliation") \
        if _table_exists(conn, "claim_reconciliation") else [{"so_chi_so": 0, "so_khop": 0}]
    errors = [i for i in issues if i["muc_do"] == "error" and i["trang_thai"] == "open"]
    others = [i for i in issues if i not in errors]
    open_warnings = [i for i in others if i["trang_thai"] == "open"]
    latest, history, completeness_target, timeliness_target = _completeness(conn)
    return {
        "run_id": run_id,
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "publication": "withheld" if errors else "allowed",
        "summary": {
            "open_errors": len(errors),
            "open_warnings": len(open_warnings),
            "waived": sum(i["trang_thai"] == "waived" for i in issues),
            "claims": claims[0]["so_chi_so"],
            "claims_matching": claims[0]["so_khop"],
            "blocking_checks": sorted({i["ma_kiem_tra"] for i in errors}),
        },
        "blocking_by_check": _by_check(errors),
        "warnings_by_check": _by_check(open_warnings),
        "blocking": errors,
        "warnings": others,
        "completeness": latest,
        "completeness_history": history,
        "completeness_target": completeness_target,
        "timeliness_target": timeliness_target,
    }


def _text(value) -> str:
    return html.escape("" if value is None else str(value))


def _issue_table(issues: list[dict]) -> str:
    if not issues:
        return "<p class=ok>Không có (none).</p>"
    columns = [("ma_kiem_tra", "Mã kiểm tra"), ("cap", "Cấp"), ("ma_don_vi", "Đơn vị"), ("ky", "Kỳ"),
               ("gia_tri_bao_cao", "Báo cáo"), ("gia_tri_tinh_toan", "Tính toán"), ("mo_ta", "Mô tả"),
               ("trang_thai", "Trạng thái"), ("issue_id", "ID")]
    head = "".join(f"<th>{label}</th>" for _, label in columns)
    body = "".join(
        f"<tr class={i['muc_do']}>" + "".join(f"<td>{_text(i[key])}</td>" for key, _ in columns)
        + (f"<td>miễn bởi {_text(i['waived_by'])}: {_text(i['waiver_reason'])}</td>" if i["trang_thai"] == "waived"
           else "<td></td>") + "</tr>"
        for i in issues[:MAX_ISSUE_ROWS])
    more = (f"<p>… và {len(issues) - MAX_ISSUE_ROWS} vấn đề khác (and more: see the JSON).</p>"
            if len(issues) > MAX_ISSUE_ROWS else "")
    return f"<table><tr>{head}<th>Ghi chú</th></tr>{body}</table>{more}"


def _checks_chart(by_check: list[dict]) -> str:
    """Issues per check code, as horizontal bars in inline SVG."""
    if not by_check:
        return ""
    row, label_width, bar_width = 22, 260, 420
    top = max(e["so_van_de"] for e in by_check)
    bars = []
    for index, entry in enumerate(by_check):
        y = index * row
        width = max(2, round(bar_width * entry["so_van_de"] / top))
        colour = "#c62828" if entry["muc_do"] == "error" else "#ef8f00"
        bars.append(
            f"<text x={label_width - 6} y={y + 15} text-anchor=end>{_text(entry['ma_kiem_tra'])}</text>"
            f"<rect x={label_width} y={y + 3} width={width} height={row - 6} fill='{colour}'>"
            f"<title>{_text(entry['vi_du'])}</title></rect>"
            f"<text x={label_width + width + 6} y={y + 15}>{entry['so_van_de']}</text>")
    height = row * len(by_check)
    return (f"<svg role=img aria-label='issues by check' width={label_width + bar_width + 60} height={height} "
            f"font-size=12 font-family='system-ui,sans-serif'>{''.join(bars)}</svg>")


def _rate_bar(value, target: float, label: str) -> str:
    if value is None:
        return "<span class=track title='không đánh giá (not judged)'><span class=na>—</span></span>"
    share = float(value)
    colour = "#2e7d32" if share >= target else "#c62828"
    return (f"<span class=track title='{label} {share:.1f}% (mục tiêu {target:g}%)'>"
            f"<span class=fill style='width:{share:.1f}%;background:{colour}'></span>"
            f"<span class=target style='left:{target:.1f}%'></span></span>")


def _completeness_section(report: dict) -> str:
    rows = report["completeness"]
    if not rows:
        return "<p>Chưa có số liệu (no data).</p>"
    c_target, t_target = report["completeness_target"], report["timeliness_target"]
    lines = []
    for row in rows:
        indent = " district" if row["cap"] == "huyen" else " province"
        name = _text(f"{row['ten_don_vi'] or row['ma_don_vi']} ({row['ma_don_vi']})")
        timely = "" if row["ty_le_dung_han"] is None else f"{row['so_xa_dung_han']}/{row['so_xa_da_bao_cao']}"
        lines.append(
            f"<div class='bar{indent}'><span class=label>{name} · kỳ {_text(row['ky'])}</span>"
            f"{_rate_bar(row['ty_le_day_du'], c_target, 'đầy đủ')}"
            f"<span class=value>{row['so_xa_da_bao_cao']}/{row['so_xa_phai_bao_cao']} = {row['ty_le_day_du']}%</span>"
            f"{_rate_bar(row['ty_le_dung_han'], t_target, 'đúng hạn')}"
            f"<span class=value>{timely}{' = ' + str(row['ty_le_dung_han']) + '%' if timely else 'không đánh giá'}</span>"
            "</div>")
    legend = (f"<p>Kỳ gần nhất của mỗi tỉnh và huyện. Thanh thứ nhất: tỷ lệ xã gửi báo cáo (completeness, mục tiêu "
              f"{c_target:g}%); thanh thứ hai: tỷ lệ báo cáo đúng hạn trong số đã gửi (timeliness, mục tiêu "
              f"{t_target:g}%). Vạch đen: mục tiêu. “—”: kỳ nhập bù trước khi kho nhận tệp đầu tiên, không đánh giá "
              f"đúng hạn.</p>")
    head = ("<div class='bar head'><span class=label>Đơn vị</span><span class=track-head>Đầy đủ</span>"
            "<span class=value></span><span class=track-head>Đúng hạn</span><span class=value></span></div>")
    return legend + head + "".join(lines) + _history_charts(report["completeness_history"], c_target)


def _history_charts(history: list[dict], target: float) -> str:
    """Completeness of each province over its recent periods: small inline SVG columns."""
    provinces: dict[str, list[dict]] = {}
    for row in history:
        provinces.setdefault(row["ma_don_vi"], []).append(row)
    charts = []
    for code, rows in provinces.items():
        width, height, column = 24 * len(rows) + 40, 90, 24
        parts = [f"<line x1=30 x2={width} y1={70 - 0.6 * target:.1f} y2={70 - 0.6 * target:.1f} stroke='#333' "
                 f"stroke-dasharray='3 2'/>"]
        for index, row in enumerate(rows):
            share = float(row["ty_le_day_du"] or 0)
            x = 30 + index * column
            colour = "#2e7d32" if share >= target else "#c62828"
            parts.append(f"<rect x={x + 3} y={70 - 0.6 * share:.1f} width={column - 6} height={0.6 * share:.1f} "
                         f"fill='{colour}'><title>{_text(row['ky'])}: {share:.1f}%</title></rect>"
                         f"<text x={x + column / 2} y=84 text-anchor=middle font-size=8>{_text(row['ky'][2:])}</text>")
        parts.append("<text x=0 y=12 font-size=9>100%</text><text x=0 y=72 font-size=9>0%</text>")
        name = _text(f"{rows[0]['ten_don_vi'] or code} ({code})")
        charts.append(f"<figure><figcaption>{name}</figcaption><svg role=img aria-label='completeness {code}' "
                      f"width={width} height={height} font-family='system-ui,sans-serif'>{''.join(parts)}</svg></figure>")
    return ("<h3>Tỷ lệ đầy đủ theo kỳ, cấp tỉnh (completeness over recent periods)</h3>" + "".join(charts)
            if charts else "")


def render_html(report: dict) -> str:
    s = report["summary"]
    if report["publication"] == "withheld":
        status = ("<p class='banner bad'>Tạm dừng công bố: còn lỗi nghiêm trọng chưa xử lý (publication withheld). "
                  "Kiểm tra chặn: " + ", ".join(_text(c) for c in s["blocking_checks"]) + ".</p>")
    else:
        status = "<p class='banner ok'>Không có lỗi chặn công bố (nothing blocks publication).</p>"
    return f"""<!doctype html><html lang=vi><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<title>Báo cáo chất lượng số liệu NTM — {_text(report['run_id'])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:80em;color:#222}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #ccc;padding:.3em;font-size:.85em;text-align:left;vertical-align:top}}
tr.error td:first-child{{border-left:4px solid #c62828}} tr.warning td:first-child{{border-left:4px solid #ef8f00}}
.ok{{color:#2e7d32}} .bad{{color:#c62828;font-weight:bold}} .banner{{padding:.6em;border:1px solid currentColor}}
.bar{{display:flex;align-items:center;gap:.5em;margin:.15em 0}} .label{{width:24em}} .bar.district .label{{padding-left:1.5em}}
.bar.province{{font-weight:bold;margin-top:.6em}} .bar.head{{font-size:.8em;color:#555}}
.track,.track-head{{flex:1;position:relative;background:#eee;height:1em;display:inline-block}} .track-head{{background:none}}
.fill{{display:block;height:1em}} .target{{position:absolute;top:-2px;bottom:-2px;width:2px;background:#222}}
.na{{font-size:.8em;padding-left:.3em}} .value{{width:9em;text-align:right;font-size:.85em}}
figure{{display:inline-block;margin:.5em 1em .5em 0}} figcaption{{font-size:.85em}}
</style>
<h1>Báo cáo chất lượng số liệu (data quality report)</h1>
<p>Lần chạy {_text(report['run_id'])} · {_text(report['generated_at'])}</p>
{status}
<p>Lỗi mở: <b>{s['open_errors']}</b> · Cảnh báo: <b>{s['open_warnings']}</b> · Đã miễn: {s['waived']} ·
Chỉ số báo cáo khớp: {s['claims_matching']}/{s['claims']}</p>
<h2>1. Lỗi chặn công bố (what blocks publication)</h2>
{_checks_chart(report['blocking_by_check'])}
{_issue_table(report['blocking'])}
<p>Để cho qua một lỗi có lý do: <code>ntm waive ID --reason "…"</code> (ghi người, thời điểm, lý do).</p>
<h2>2. Cảnh báo và vấn đề đã miễn (warnings and waived)</h2>
{_checks_chart(report['warnings_by_check'])}
{_issue_table(report['warnings'])}
<h2>3. Báo cáo của xã: đầy đủ và đúng hạn (completeness and timeliness of reporting)</h2>
{_completeness_section(report)}
</html>"""


def write_report(paths: HomePaths, report: dict) -> Path:
    """Write `reports/quality-<stamp>.{json,html}` and point `reports/latest.*` at them."""
    paths.reports.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + report["run_id"][:8]
    page = paths.reports / f"quality-{stamp}.html"
    (paths.reports / f"quality-{stamp}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str), "utf-8")
    page.write_text(render_html(report), "utf-8")
    for suffix in ("html", "json"):
        link, tmp = paths.reports / f"latest.{suffix}", paths.reports / f".latest.{suffix}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(f"quality-{stamp}.{suffix}")
        os.replace(tmp, link)
    return page
