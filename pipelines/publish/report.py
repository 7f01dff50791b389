"""The quality report of a run: JSON for machines, one offline HTML page for people.

What blocked comes first, then warnings, then completeness of reporting by province and district.
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
                 "gia_tri_bao_cao", "gia_tri_tinh_toan", "first_seen", "last_seen"]
COMPLETENESS_TARGET = 90.0  # WHO Data Quality Review default


def _rows(conn, sql: str, params=None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _table_exists(conn, name: str) -> bool:
    return conn.execute("select count(*) from information_schema.tables where table_schema='main' and table_name=?",
                        [name]).fetchone()[0] > 0


def build_report(conn: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    fields = ", ".join(_ISSUE_FIELDS)
    issues = _rows(conn, f"select {fields} from main.quality_issues where trang_thai <> 'resolved'")
    completeness = []
    if _table_exists(conn, "mart_unit_month"):
        completeness = _rows(conn, """
            select cap, ma_don_vi, ten_don_vi, thang, so_xa, so_xa_co_bao_cao,
                   round(100.0 * so_xa_co_bao_cao / nullif(so_xa, 0), 1) as ty_le_bao_cao
            from main.mart_unit_month
            where cap in ('tinh', 'huyen')
              and thang_ky > (select max(thang_ky) from main.mart_unit_month) - interval 12 month
            order by cap desc, ma_don_vi, thang""")
    claims = _rows(conn, "select count(*) as so_chi_so, count_if(khop) as so_khop from main.claim_reconciliation") \
        if _table_exists(conn, "claim_reconciliation") else [{"so_chi_so": 0, "so_khop": 0}]
    errors = [i for i in issues if i["muc_do"] == "error" and i["trang_thai"] == "open"]
    return {
        "run_id": run_id,
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "publication": "withheld" if errors else "allowed",
        "summary": {
            "open_errors": len(errors),
            "open_warnings": sum(i["muc_do"] == "warning" and i["trang_thai"] == "open" for i in issues),
            "waived": sum(i["trang_thai"] == "waived" for i in issues),
            "claims": claims[0]["so_chi_so"],
            "claims_matching": claims[0]["so_khop"],
        },
        "blocking": errors,
        "warnings": [i for i in issues if i not in errors],
        "completeness": completeness,
        "completeness_target": COMPLETENESS_TARGET,
    }


def _issue_table(issues: list[dict]) -> str:
    if not issues:
        return "<p class=ok>Không có (none).</p>"
    head = "".join(f"<th>{h}</th>" for h in ("Mã kiểm tra", "Cấp", "Đơn vị", "Kỳ", "Mô tả", "Trạng thái", "ID"))
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(i[k] if i[k] is not None else ''))}</td>" for k in
                         ("ma_kiem_tra", "cap", "ma_don_vi", "ky", "mo_ta", "trang_thai", "issue_id")) + "</tr>"
        for i in issues[:500])
    more = f"<p>… và {len(issues) - 500} vấn đề khác (see the JSON).</p>" if len(issues) > 500 else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _completeness_chart(rows: list[dict], target: float) -> str:
    if not rows:
        return "<p>Chưa có số liệu (no data).</p>"
    latest = {}
    for row in rows:  # the latest month per unit
        latest[(row["cap"], row["ma_don_vi"])] = row
    bars = []
    for (cap, code), row in sorted(latest.items(), key=lambda kv: (kv[0][0] != "tinh", kv[0][1])):
        share = float(row["ty_le_bao_cao"] or 0)
        colour = "#2e7d32" if share >= target else "#c62828"
        label = html.escape(f"{cap} {code} {row['ten_don_vi'] or ''} ({row['thang']})")
        bars.append(
            f"<div class=bar><span class=label>{label}</span>"
            f"<span class=track><span class=fill style='width:{share:.1f}%;background:{colour}'></span></span>"
            f"<span class=value>{row['so_xa_co_bao_cao']}/{row['so_xa']} = {share:.1f}%</span></div>")
    return f"<p>Mục tiêu {target:g}% (WHO). Tháng gần nhất của mỗi đơn vị.</p>" + "".join(bars)


def render_html(report: dict) -> str:
    s = report["summary"]
    status = ("<p class=bad>Tạm dừng công bố: còn lỗi nghiêm trọng (publication withheld).</p>"
              if report["publication"] == "withheld" else
              "<p class=ok>Không có lỗi chặn công bố (nothing blocks publication).</p>")
    return f"""<!doctype html><html lang=vi><meta charset=utf-8>
<title>Báo cáo chất lượng số liệu NTM — {html.escape(report['run_id'])}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:75em}} table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.3em;font-size:.9em;text-align:left;vertical-align:top}}
.ok{{color:#2e7d32}} .bad{{color:#c62828;font-weight:bold}}
.bar{{display:flex;align-items:center;gap:.5em;margin:.2em 0}} .label{{width:22em}}
.track{{flex:1;background:#eee;height:1em;display:inline-block}} .fill{{display:block;height:1em}}
.value{{width:10em;text-align:right}}
</style>
<h1>Báo cáo chất lượng số liệu (data quality report)</h1>
<p>Lần chạy {html.escape(report['run_id'])} · {html.escape(report['generated_at'])}</p>
{status}
<p>Lỗi mở: <b>{s['open_errors']}</b> · Cảnh báo: <b>{s['open_warnings']}</b> · Đã miễn: {s['waived']} ·
Chỉ số báo cáo khớp: {s['claims_matching']}/{s['claims']}</p>
<h2>Lỗi chặn công bố (blocking errors)</h2>{_issue_table(report['blocking'])}
<h2>Cảnh báo và vấn đề đã miễn (warnings and waived)</h2>{_issue_table(report['warnings'])}
<h2>Tỷ lệ xã gửi báo cáo (completeness of reporting)</h2>{_completeness_chart(report['completeness'], report['completeness_target'])}
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
