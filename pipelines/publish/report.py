"""The quality report of a run: JSON for machines, one offline HTML page for people.

Order of reading: whether publication was withheld and by which checks; the ongoing issues (one per
unit and check, with since, last seen and how many periods), the blocking ones first and a short top
list before the rest; the claims table (claimed against computed, source file and row, difference);
open issues over recent runs; completeness and timeliness by province, district and commune.
The page is rendered by Jinja2 (autoescaped) with charts as inline SVG (`quality_charts.py`):
no script and no external resource, so it opens from a file or an e-mail attachment. Every issue
stays queryable in `quality_issues`; the JSON holds the page's content, grouped, so it stays small.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from pathlib import Path

import duckdb

from pipelines.publish import quality_charts
from pipelines.publish.progress_charts import drawn
from pipelines.settings import HomePaths

COMPLETENESS_TARGET = 90.0  # WHO Data Quality Review defaults; the dbt vars override them per run
TIMELINESS_TARGET = 75.0
TOP_GROUPS = 20  # ongoing issues shown before the "more" fold
MAX_ROWS = 1000  # rows of any one table on the page; the warehouse has every one
MAX_BLOCKING = 5000  # open errors listed one by one in the JSON (each is waived by its own id)
HISTORY_PERIODS = 12
HISTORY_RUNS = 20
_TEMPLATES = Path(__file__).with_name("templates")


def _rows(conn, sql: str, params=None) -> list[dict]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _table_exists(conn, name: str, schema: str = "main") -> bool:
    return conn.execute("select count(*) from information_schema.tables where table_schema=? and table_name=?",
                        [schema, name]).fetchone()[0] > 0


def _issue_groups(conn) -> list[dict]:
    """One ongoing issue per check, unit, severity and status: the periods it spans (`tu_ky`..`den_ky`,
    `so_ky`), when it was first and last seen, and its latest period's message and values."""
    return _rows(conn, """
        select ma_kiem_tra, muc_do, trang_thai, cap, ma_don_vi,
               min(ky) as tu_ky, max(ky) as den_ky, count(distinct ky) as so_ky, count(*) as so_van_de,
               cast(min(first_seen) as varchar) as first_seen, cast(max(last_seen) as varchar) as last_seen,
               arg_max(mo_ta, ky) as mo_ta, arg_max(issue_id, ky) as issue_id,
               arg_max(gia_tri_bao_cao, ky) as gia_tri_bao_cao, arg_max(gia_tri_tinh_toan, ky) as gia_tri_tinh_toan,
               any_value(waived_by) as waived_by, any_value(waiver_reason) as waiver_reason
        from main.quality_issues
        where trang_thai <> 'resolved'
        group by ma_kiem_tra, muc_do, trang_thai, cap, ma_don_vi
        order by muc_do = 'error' and trang_thai = 'open' desc, muc_do = 'error' desc, so_ky desc,
                 so_van_de desc, ma_kiem_tra, cap, ma_don_vi""")


def _by_check(groups: list[dict]) -> list[dict]:
    counts: dict[str, dict] = {}
    for group in groups:
        entry = counts.setdefault(group["ma_kiem_tra"], {
            "ma_kiem_tra": group["ma_kiem_tra"], "muc_do": group["muc_do"], "so_van_de": 0, "vi_du": group["mo_ta"]})
        entry["so_van_de"] += 1
    return sorted(counts.values(), key=lambda e: (-e["so_van_de"], e["ma_kiem_tra"]))


def _claims(conn) -> list[dict]:
    """Every current claim: claimed against computed, the difference, its source file and row."""
    if not _table_exists(conn, "claim_reconciliation"):
        return []
    return _rows(conn, """
        select cap, ma_don_vi, tu_thang, den_thang, chi_so, gia_tri_bao_cao, gia_tri_tinh_toan,
               gia_tri_tinh_toan - gia_tri_bao_cao as chenh_lech, coalesce(khop, false) as khop,
               file_name, source_sheet, source_row
        from main.claim_reconciliation
        order by coalesce(khop, false), cap, ma_don_vi, den_thang, chi_so""")


def _runs(conn) -> list[dict]:
    """Open errors and warnings after each of the recent runs (`quality/runs.py`)."""
    if not _table_exists(conn, "run_log", "audit"):
        return []
    return _rows(conn, f"""
        select * from (select run_id, cast(thoi_diem as varchar) as thoi_diem, loi, canh_bao, da_mien
                       from audit.run_log order by thoi_diem desc limit {HISTORY_RUNS})
        order by thoi_diem""")


_SHORTEST_FIRST = "case loai_ky when 'thang' then 0 when 'quy' then 1 when 'nua_nam' then 2 else 3 end"


def _completeness(conn) -> dict:
    """Each province's latest period, with its districts (before the reform) and the communes that
    missed it or sent late; the recent history of provinces; the targets."""
    empty = {"units": [], "history": [], "completeness_target": COMPLETENESS_TARGET,
             "timeliness_target": TIMELINESS_TARGET}
    if not _table_exists(conn, "audit_reporting_completeness", "audit"):
        return empty
    fields = """cap, ma_don_vi, ten_don_vi, ma_tinh, ky, loai_ky, cast(han_nop as varchar) as han_nop,
                so_xa_phai_bao_cao, so_xa_da_bao_cao, so_xa_dung_han, ty_le_day_du, ty_le_dung_han"""
    latest = _rows(conn, f"""
        select {fields} from audit.audit_reporting_completeness where cap in ('tinh', 'huyen')
        qualify row_number() over (partition by cap, ma_don_vi order by thang_ky desc, {_SHORTEST_FIRST}) = 1
        order by ma_tinh, cap = 'huyen', ma_don_vi""")
    # Communes: only where the model has them, at their province's latest period, those short of it.
    communes = _rows(conn, f"""
        with latest as (
            select ma_tinh, ky from audit.audit_reporting_completeness where cap = 'tinh'
            qualify row_number() over (partition by ma_tinh order by thang_ky desc, {_SHORTEST_FIRST}) = 1)
        select {fields} from audit.audit_reporting_completeness as c inner join latest using (ma_tinh, ky)
        where c.cap = 'xa' and (c.so_xa_da_bao_cao = 0 or (c.ty_le_dung_han is not null and c.so_xa_dung_han = 0))
        order by c.ma_tinh, c.ma_don_vi limit {MAX_ROWS}""")
    history = _rows(conn, f"""
        select {fields} from audit.audit_reporting_completeness where cap = 'tinh'
        qualify row_number() over (partition by ma_don_vi order by thang_ky desc, loai_ky) <= {HISTORY_PERIODS}
        order by ma_don_vi, ky""")
    targets = conn.execute("""select any_value(muc_tieu_day_du), any_value(muc_tieu_dung_han)
                              from audit.audit_reporting_completeness""").fetchone()
    for unit in latest:
        unit["xa_thieu"] = [c for c in communes if c["ma_tinh"] == unit["ma_don_vi"]] if unit["cap"] == "tinh" else []
    return {"units": latest, "history": history,
            "completeness_target": targets[0] if targets[0] is not None else COMPLETENESS_TARGET,
            "timeliness_target": targets[1] if targets[1] is not None else TIMELINESS_TARGET}


def build_report(conn: duckdb.DuckDBPyConnection, run_id: str) -> dict:
    groups = _issue_groups(conn)
    [counts] = _rows(conn, """
        select coalesce(count_if(muc_do = 'error' and trang_thai = 'open'), 0) as open_errors,
               coalesce(count_if(muc_do = 'warning' and trang_thai = 'open'), 0) as open_warnings,
               coalesce(count_if(trang_thai = 'waived'), 0) as waived
        from main.quality_issues""")
    blocking = _rows(conn, f"""
        select issue_id, ma_kiem_tra, muc_do, cap, ma_don_vi, ky, mo_ta, trang_thai, gia_tri_bao_cao,
               gia_tri_tinh_toan, cast(first_seen as varchar) as first_seen, cast(last_seen as varchar) as last_seen
        from main.quality_issues where muc_do = 'error' and trang_thai = 'open'
        order by ma_kiem_tra, cap, ma_don_vi, ky limit {MAX_BLOCKING}""")
    claims = _claims(conn)
    blocking_groups = [g for g in groups if g["muc_do"] == "error" and g["trang_thai"] == "open"]
    other_groups = [g for g in groups if not (g["muc_do"] == "error" and g["trang_thai"] == "open")]
    completeness = _completeness(conn)
    return {
        "run_id": run_id,
        "generated_at": dt.datetime.now().isoformat(timespec="seconds"),
        "publication": "withheld" if counts["open_errors"] else "allowed",
        "summary": {
            **{key: int(value) for key, value in counts.items()},
            "ongoing_issues": len(groups),
            "claims": len(claims),
            "claims_matching": sum(c["khop"] for c in claims),
            "blocking_checks": sorted({g["ma_kiem_tra"] for g in blocking_groups}),
        },
        "blocking_by_check": _by_check(blocking_groups),
        "warnings_by_check": _by_check([g for g in other_groups if g["trang_thai"] == "open"]),
        "blocking": blocking,
        "ongoing": groups,
        "claims": claims,
        "runs": _runs(conn),
        "completeness": completeness["units"],
        "completeness_history": completeness["history"],
        "completeness_target": completeness["completeness_target"],
        "timeliness_target": completeness["timeliness_target"],
    }


def _number(value, decimals: int = 2) -> str:
    """A number as Vietnamese write it: dot thousands, decimal comma, no trailing zeros."""
    if value is None:
        return "—"
    text = f"{float(value):,.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{float(value):,.0f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def render_html(report: dict) -> str:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                                     trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    environment.filters["so"] = _number
    groups = report["ongoing"]
    blocking = [g for g in groups if g["muc_do"] == "error" and g["trang_thai"] == "open"]
    draw = functools.partial(drawn, environment.get_template("quality_charts.svg.j2").module)

    def count(value) -> str:
        return _number(value, 0)

    charts = {
        "blocking": draw(quality_charts.issues_by_check(report["blocking_by_check"], "Lỗi chặn theo mã kiểm tra", count)),
        "warnings": draw(quality_charts.issues_by_check(report["warnings_by_check"], "Cảnh báo theo mã kiểm tra", count)),
        "runs": draw(quality_charts.issues_over_runs(report["runs"], count)),
        "completeness": draw(quality_charts.completeness_heatmap(report["completeness_history"],
                                                                 report["completeness_target"])),
    }
    return environment.get_template("quality.html.j2").render(
        report=report, s=report["summary"], charts=charts, blocking=blocking,
        others=[g for g in groups if g not in blocking], top=TOP_GROUPS, max_rows=MAX_ROWS,
        mismatched=[c for c in report["claims"] if not c["khop"]],
        matched=[c for c in report["claims"] if c["khop"]])


def write_report(paths: HomePaths, report: dict) -> Path:
    """Write `reports/quality-<stamp>.{json,html}` and point `reports/latest.*` at them."""
    paths.reports.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + report["run_id"][:8]
    page = paths.reports / f"quality-{stamp}.html"
    (paths.reports / f"quality-{stamp}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1, default=str), "utf-8")
    page.write_text(render_html(report), "utf-8")
    for suffix in ("html", "json"):
        link, tmp = paths.reports / f"latest.{suffix}", paths.reports / f".latest.{suffix}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(f"quality-{stamp}.{suffix}")
        os.replace(tmp, link)
    return page
