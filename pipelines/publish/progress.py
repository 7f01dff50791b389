"""The progress report (báo cáo tiến độ, contract §6): HTML page, Excel workbook and Markdown narrative.

Built from the published warehouse only (`progress_data`), opened read-only. Every sentence of the
narrative is one Jinja2 template (`templates/progress_narrative.j2`) with the numbers filled in, each
written as Vietnamese write it (1.234,5) and followed by its reconciliation status against the
claims of the same unit and range. The page and the Markdown share that template; the page is
rendered with autoescape on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from decimal import ROUND_HALF_UP, Decimal
from dataclasses import dataclass
from pathlib import Path

import duckdb
from markupsafe import Markup

from pipelines import rules
from pipelines.publish import progress_charts as charts
from pipelines.publish import progress_excel
from pipelines.publish.progress_data import ProgressData, ReportError, covered_provinces, load
from pipelines.settings import HomePaths

TEMPLATES = Path(__file__).with_name("templates")
log = logging.getLogger(__name__)

LABELS = {
    "so_xa": "Số xã trong phạm vi",
    "so_xa_co_bao_cao": "Số xã có báo cáo trong kỳ",
    "so_xa_dat_chuan": "Số xã đạt chuẩn NTM",
    "ty_le_xa_dat_chuan": "Tỷ lệ xã đạt chuẩn NTM (%)",
    "so_xa_nang_cao": "Số xã đạt chuẩn NTM nâng cao",
    "so_xa_kieu_mau": "Số xã đạt chuẩn NTM kiểu mẫu",
    "so_xa_hien_dai": "Số xã đạt chuẩn NTM hiện đại",
    "so_xa_dat_19_tc": "Số xã đạt đủ tiêu chí",
    "so_xa_15_18_tc": "Số xã đạt {b0} tiêu chí",
    "so_xa_10_14_tc": "Số xã đạt {b1} tiêu chí",
    "so_xa_5_9_tc": "Số xã đạt {b2} tiêu chí",
    "so_xa_duoi_5_tc": "Số xã đạt {b3} tiêu chí",
    "so_xa_duoi_10_tc": "Số xã đạt {b4} tiêu chí",
    "binh_quan_tieu_chi": "Bình quân tiêu chí/xã",
    "so_san_pham_ocop": "Sản phẩm OCOP (từ 3 sao)",
    "so_san_pham_ocop_3_sao": "Sản phẩm OCOP 3 sao",
    "so_san_pham_ocop_4_sao": "Sản phẩm OCOP 4 sao",
    "so_san_pham_ocop_5_sao": "Sản phẩm OCOP 5 sao",
    "so_thon_kieu_mau": "Thôn, xóm NTM kiểu mẫu",
    "so_mo_hinh_sxkd_moi": "Mô hình SXKD mới trong kỳ",
    "so_htx_moi": "Hợp tác xã mới trong kỳ",
    "so_tht_moi": "Tổ hợp tác mới trong kỳ",
    "so_dn_moi": "Doanh nghiệp mới trong kỳ",
    "so_xa_khong_co_mo_hinh_moi": "Số xã không có mô hình SXKD mới",
    "von_ke_hoach_trieu_dong": "Vốn kế hoạch (triệu đồng)",
    "von_giai_ngan_trieu_dong": "Vốn giải ngân (triệu đồng)",
    "ty_le_giai_ngan": "Tỷ lệ giải ngân (%)",
    "xi_mang_tan": "Xi măng (tấn)",
    "thang": "Tháng", "ma_don_vi": "Mã đơn vị", "ten_don_vi": "Tên đơn vị", "ma_xa": "Mã xã", "ten_xa": "Tên xã",
    "ten_huyen": "Huyện", "danh_hieu": "Danh hiệu", "so_tieu_chi_dat": "Số tiêu chí đạt",
    "so_tieu_chi_bo": "Số tiêu chí của bộ", "vi_do": "Vĩ độ", "kinh_do": "Kinh độ",
}
STATUS_TEXT = {"khop": "khớp", "khong_khop": "không khớp", "chua_co": "chưa có số liệu báo cáo"}
CAP_NAMES = {"huyen": "huyện", "tinh": "tỉnh", "toan_quoc": "toàn quốc", "xa": "xã"}
MONTH_COLUMNS = ["thang", "so_xa", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao", "so_xa_kieu_mau",
                 "binh_quan_tieu_chi", "so_san_pham_ocop", "so_thon_kieu_mau", "so_mo_hinh_sxkd_moi",
                 "von_giai_ngan_trieu_dong"]
SUB_COLUMNS = ["ma_don_vi", "ten_don_vi", "so_xa", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao",
               "so_xa_kieu_mau", "binh_quan_tieu_chi", "so_san_pham_ocop", "so_thon_kieu_mau",
               "so_mo_hinh_sxkd_moi", "von_giai_ngan_trieu_dong"]
COMMUNE_COLUMNS = ["ma_xa", "ten_xa", "ten_huyen", "danh_hieu", "so_tieu_chi_dat", "so_tieu_chi_bo", "vi_do", "kinh_do"]


def decimals_of(chi_so: str) -> int:
    """Decimals a number is written with: one for shares and means, none for counts and amounts."""
    return 1 if chi_so.startswith(("ty_le", "binh_quan")) else 0


def vn_number(value, decimals: int = 0) -> str:
    """1234.5 → '1.234,5': dot thousands, decimal comma (Vietnamese usage)."""
    if value is None:
        return "chưa có số liệu"
    # Half up, as claims are matched (contract §2): 71,85 is written 71,9 and matches a claim of 71,9.
    exact = Decimal(value if isinstance(value, (int, Decimal)) else repr(float(value)))
    text = f"{exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def band_labels(edges: list[int]) -> dict[str, str]:
    """Criteria-met bands in words, from the configured edges and the largest criteria set."""
    top = max(rules.criteria_set_sizes().values())
    e0, e1, e2 = edges
    return {"b0": f"từ {e0}-{top - 1}", "b1": f"từ {e1}-{e0 - 1}", "b2": f"từ {e2}-{e1 - 1}",
            "b3": f"dưới {e2}", "b4": f"dưới {e1}"}


def labels(edges: list[int]) -> dict[str, str]:
    bands = band_labels(edges)
    return {key: text.format(**bands) for key, text in LABELS.items()}


def range_phrase(tu: str, den: str) -> str:
    """'6 tháng đầu năm 2020', 'năm 2020', 'tháng 6/2020' or 'từ tháng 1/2019 đến tháng 6/2020'."""
    (y0, m0), (y1, m1) = (map(int, tu.split("-")), map(int, den.split("-")))
    if tu == den:
        return f"tháng {m1}/{y1}"
    if y0 == y1 and m0 == 1:
        return f"năm {y1}" if m1 == 12 else f"{m1} tháng đầu năm {y1}"
    return f"từ tháng {m0}/{y0} đến tháng {m1}/{y1}"


def unit_phrase(data: ProgressData) -> str:
    """'toàn tỉnh Thái Nguyên', 'toàn huyện Can Lộc', 'cả nước'."""
    if data.cap == "toan_quoc":
        return "cả nước"
    name = data.ten_don_vi
    return "toàn " + (name[:1].lower() + name[1:] if name[:1].isupper() and " " in name else name)


@dataclass
class Stated:
    """One number as the report states it, with its reconciliation status."""

    chi_so: str
    value: object
    text: str
    status: str
    claimed_text: str | None

    def _body(self, unit: str) -> str:
        return self.text if self.value is None else f"{self.text}{unit}"

    def _note(self, unit: str, separator: str) -> str:
        if self.status != "khong_khop":
            return STATUS_TEXT[self.status]
        return f"{STATUS_TEXT[self.status]}{separator}{self.claimed_text}{'%' if unit == '%' else ''}"

    def plain(self, unit: str = "") -> str:
        if self.value is None and self.status == "chua_co":
            return self.text
        return f"{self._body(unit)} ({self._note(unit, ', báo cáo: ')})"

    def html(self, unit: str = "") -> Markup:
        if self.value is None and self.status == "chua_co":
            return Markup('<b class="so">{}</b>').format(self.text)
        return Markup('<b class="so">{}</b> <span class="dc {}">{}</span>').format(
            self._body(unit), self.status, self._note(unit, ": báo cáo "))


def stated_numbers(data: ProgressData) -> dict[str, Stated]:
    numbers = {}
    for chi_so, value in data.values.items():
        claim = data.claims.get(chi_so)
        status = "chua_co" if claim is None else ("khop" if claim.get("khop") else "khong_khop")
        claimed = None
        if claim is not None and claim.get("gia_tri_bao_cao") is not None:
            claimed = vn_number(claim["gia_tri_bao_cao"], int(claim.get("so_chu_so_thap_phan") or 0))
        numbers[chi_so] = Stated(chi_so, value, vn_number(value, decimals_of(chi_so)), status, claimed)
    return numbers


@functools.lru_cache(maxsize=2)
def _environment(html: bool):
    """One environment per process and escaping: it caches the compiled templates across reports."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=html,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["vn"] = vn_number
    env.filters["capfirst"] = lambda text: text[:1].upper() + text[1:]
    return env


def draw_chart(layout: dict | None) -> Markup:
    """A chart of `progress_charts` drawn as inline SVG by its macro in `progress_charts.svg.j2`."""
    return charts.drawn(_environment(html=True).get_template("progress_charts.svg.j2").module, layout)


def _context(data: ProgressData, edges: list[int], html: bool) -> dict:
    numbers = stated_numbers(data)

    def so(chi_so: str, unit: str = ""):
        stated = numbers[chi_so]
        return stated.html(unit) if html else stated.plain(unit)

    return {"d": data, "so": so, "ky": range_phrase(data.tu, data.den), "don_vi": unit_phrase(data),
            "den_text": range_phrase(data.den, data.den), "bands": band_labels(edges), "numbers": numbers,
            "labels": labels(edges), "status_text": STATUS_TEXT, "cap_names": CAP_NAMES,
            "generated_at": dt.datetime.now().isoformat(timespec="seconds")}


def render_markdown(data: ProgressData, edges: list[int]) -> str:
    return _environment(html=False).get_template("progress.md.j2").render(**_context(data, edges, html=False))


def _cell(chi_so: str, value) -> str:
    if isinstance(value, str) or value is None:
        return value or ""
    return vn_number(value, 4 if chi_so in ("vi_do", "kinh_do") else decimals_of(chi_so))


def render_html(data: ProgressData, edges: list[int]) -> str:
    context = _context(data, edges, html=True)
    names = context["labels"]
    bands = [(names[k], data.values.get(k)) for k in
             ("so_xa_dat_19_tc", "so_xa_15_18_tc", "so_xa_10_14_tc", "so_xa_5_9_tc", "so_xa_duoi_5_tc")]
    banded = sum(v or 0 for _, v in bands)
    if data.values.get("so_xa") is not None:
        bands.append((charts.NO_DATA, data.values["so_xa"] - banded))
    stars = [(f"{n} sao", data.values.get(f"so_san_pham_ocop_{n}_sao")) for n in (3, 4, 5)]
    title_map, unplaced = charts.title_map(data.communes)
    count = lambda v: vn_number(v, 0)  # noqa: E731
    context.update({
        "chart_months": draw_chart(charts.recognised_by_month(data.months, count) if data.months else None),
        "chart_bands": draw_chart(charts.horizontal_bars(bands, count, "Số xã theo số tiêu chí đạt", "#43a047")),
        "chart_ocop": draw_chart(charts.horizontal_bars(stars, count, "Sản phẩm OCOP theo số sao", "#fb8c00")),
        "chart_map": draw_chart(title_map), "unplaced": unplaced,
        "tables": [
            ("TheoThang", "Theo tháng", MONTH_COLUMNS, data.months),
            ("DonVi", f"Đơn vị trực thuộc ({CAP_NAMES[data.sub_unit_cap]})", SUB_COLUMNS, data.sub_units),
            ("Xa", "Danh sách xã theo danh hiệu", COMMUNE_COLUMNS, data.communes),
        ],
        "cell": _cell,
    })
    return _environment(html=True).get_template("progress.html.j2").render(**context)


def file_stem(cap: str, code: str, tu: str, den: str) -> str:
    return f"tien_do_{cap}_{'vn' if cap == 'toan_quoc' else code}_{tu}_{den}"


def _published(paths: HomePaths) -> duckdb.DuckDBPyConnection:
    if not paths.published_db.exists():
        raise ReportError(f"nothing published yet in {paths.home} (no {paths.published_db.name}; run `ntm run`)")
    return duckdb.connect(str(paths.published_db), read_only=True)


def write_progress_report(paths: HomePaths, cap: str, code: str, tu: str, den: str,
                          out_dir: Path | None = None, edges: list[int] | None = None,
                          conn: duckdb.DuckDBPyConnection | None = None) -> dict:
    """Write the three files of one report; returns their paths and the key numbers. `conn` is an
    open read-only connection to the published copy, for a caller writing many reports.
    Raises ReportError when nothing is published, the unit is unknown or the range is malformed."""
    edges = list(edges or [15, 10, 5])
    with contextlib.nullcontext(conn) if conn is not None else _published(paths) as published:
        data = load(published, cap, code, tu, den)
    out_dir = Path(out_dir) if out_dir else paths.reports / "tien_do"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(cap, data.ma_don_vi, tu, den)
    files = {"html": out_dir / f"{stem}.html", "xlsx": out_dir / f"{stem}.xlsx", "md": out_dir / f"{stem}.md"}
    # Written beside and renamed over, so a reader never opens half a report.
    for kind, text in (("md", render_markdown(data, edges)), ("html", render_html(data, edges))):
        tmp = files[kind].with_name(f".{files[kind].name}.tmp")
        tmp.write_text(text, "utf-8")
        tmp.replace(files[kind])
    names = labels(edges)
    tmp = files["xlsx"].with_name(f".{stem}.tmp.xlsx")
    progress_excel.write_workbook(tmp, data, stated_numbers(data), names, [
        ("TheoThang", MONTH_COLUMNS, data.months), ("DonVi", SUB_COLUMNS, data.sub_units),
        ("Xa", COMMUNE_COLUMNS, data.communes)])
    tmp.replace(files["xlsx"])
    return {"cap": cap, "ma_don_vi": data.ma_don_vi, "ten_don_vi": data.ten_don_vi, "tu": tu, "den": den,
            "files": files, "values": data.values,
            "statuses": {k: v.status for k, v in stated_numbers(data).items()}}


# Every published row a province's report over tu..den is made from, for all provinces at once
# (`wanted`: code, tu, den): (code, digest of its rows).
_INPUTS = [
    # a commune row counts for its province and, a legacy commune's, for its 2025 province (once)
    """select code, sum(h::hugeint)::varchar || ':' || count(*) from (
           select w.code, hash(f) as h from wanted as w
           join fct_commune_month as f on f.ma_tinh = w.code and f.thang between w.tu and w.den
           union all
           select w.code, hash(f) from wanted as w
           join dim_admin_unit as d on d.era = 'legacy' and d.ma_tinh_2025 = w.code
           join fct_commune_month as f on f.ma_xa = d.ma_xa and f.thang between w.tu and w.den
           where f.ma_tinh is distinct from w.code)
       group by code""",
    """select w.code, sum(hash(m)::hugeint)::varchar || ':' || count(*) from wanted as w
       join mart_unit_month as m on m.thang between w.tu and w.den and m.cap = 'tinh' and m.ma_don_vi = w.code
       group by w.code""",
    """select w.code, sum(hash(m)::hugeint)::varchar || ':' || count(*) from wanted as w
       join mart_province_month_2025 as m on m.thang between w.tu and w.den and m.ma_tinh_2025 = w.code
       group by w.code""",
    """select w.code, sum(hash(c)::hugeint)::varchar || ':' || count(*) from wanted as w
       join claim_reconciliation as c on c.cap = 'tinh' and c.ma_don_vi = w.code and c.tu_thang = w.tu
           and c.den_thang = w.den
       group by w.code""",
]


def _fingerprints(conn, provinces: list[tuple[str, str, str]], edges: list[int]) -> dict[str, str]:
    """What each province's report depends on: its published rows, the band edges and this code.
    One query per input table for every province (a query per province and table took 2.5 s for 63)."""
    code_digest = hashlib.sha256()
    for source in sorted([*Path(__file__).parent.glob("progress*.py"), *TEMPLATES.glob("progress*.j2")]):
        code_digest.update(source.read_bytes())
    conn.execute("create or replace temp table wanted (code varchar, tu varchar, den varchar)")
    conn.executemany("insert into wanted values (?, ?, ?)", provinces)
    inputs = []
    for sql in _INPUTS:
        try:
            inputs.append(dict(conn.execute(sql).fetchall()))
        except duckdb.Error:  # a table this warehouse lacks: nothing of it to depend on
            inputs.append(None)
    fingerprints = {}
    for code, tu, den in provinces:
        digest = hashlib.sha256(json.dumps([code, tu, den, list(edges)]).encode())
        digest.update(code_digest.digest())
        for rows in inputs:
            digest.update(b"-" if rows is None else str(rows.get(code)).encode())
        fingerprints[code] = digest.hexdigest()
    return fingerprints


def _summary(result: dict) -> dict:
    return {**result, "files": {k: str(v) for k, v in result["files"].items()}}


def refresh_province_reports(paths: HomePaths, edges: list[int] | None = None) -> tuple[list[dict], list[dict]]:
    """The report of every province of the published marts over its latest reporting range.
    A report whose inputs did not change since it was written is kept (its summary is read back from
    the `.json` beside it), so a run that changed one province rewrites one report; the reports to
    rewrite are shared by up to two processes (the charts are most of their cost). One report
    failing is logged and listed; it never stops the others."""
    edges = list(edges or [15, 10, 5])
    with duckdb.connect(str(paths.published_db), read_only=True) as conn:
        covered = covered_provinces(conn)
        fingerprints = _fingerprints(conn, covered, edges)
    provinces = [(code, tu, den, fingerprints[code]) for code, tu, den in covered]
    folder = paths.reports / "tien_do"
    kept_reports, stale = {}, []
    for code, tu, den, fingerprint in provinces:
        stamp = folder / f".{file_stem('tinh', code, tu, den)}.json"
        try:
            kept = json.loads(stamp.read_text("utf-8")) if stamp.exists() else {}
        except (OSError, ValueError):
            kept = {}
        if kept.get("fingerprint") == fingerprint and all(Path(f).exists() for f in kept["report"]["files"].values()):
            kept_reports[code] = {**kept["report"], "unchanged": True}
        else:
            stale.append((code, tu, den, fingerprint, stamp))
    outcomes = {}
    if len(stale) > 2 and (os.cpu_count() or 1) > 1:
        context = multiprocessing.get_context("forkserver")  # the caller may hold DuckDB threads: no fork
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            for batch in pool.map(functools.partial(_write_batch, paths, edges), [stale[0::2], stale[1::2]]):
                outcomes.update(batch)
    elif stale:
        outcomes = _write_batch(paths, edges, stale)
    written, failed = [], []
    for code, tu, den, _ in provinces:
        if code in kept_reports:
            written.append(kept_reports[code])
        elif isinstance(outcomes.get(code), dict):
            written.append({**outcomes[code], "unchanged": False})
        else:
            failed.append({"ma_don_vi": code, "tu": tu, "den": den, "error": outcomes.get(code) or "not written"})
    return written, failed


def _write_batch(paths: HomePaths, edges: list[int], jobs: list[tuple]) -> dict[str, dict | str]:
    """Reports of some provinces, over one connection to the published copy: code → summary, or
    code → error text. One province failing is logged and listed, never raised."""
    outcomes: dict[str, dict | str] = {}
    with _published(paths) as conn:
        for code, tu, den, fingerprint, stamp in jobs:
            try:
                report = _summary(write_progress_report(paths, "tinh", code, tu, den, edges=edges, conn=conn))
                stamp.write_text(json.dumps({"fingerprint": fingerprint, "report": report}, ensure_ascii=False),
                                 "utf-8")
                outcomes[code] = report
            except Exception as error:  # noqa: BLE001 - one province's failure is reported, not raised
                log.exception("progress report of province %s (%s..%s) failed", code, tu, den)
                outcomes[code] = f"{type(error).__name__}: {error}"
    return outcomes
