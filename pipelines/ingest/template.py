"""`ntm template`: the blank Excel report a commune fills in, pre-filled for its code and period.

The workbook is exactly what the readers accept (contract §1a): sheets ThongTin, TieuChi, ChiTieu,
OCOP, TongHop, each with its header on the first row, in Vietnamese labels. It carries the commune's
name and province from the reference (or the roster), the criteria of the set in force for the
period with their names, and dropdowns for status words, titles and producer types. A sheet
`HuongDan` (instructions) is extra and ignored on reading.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from functools import lru_cache
from pathlib import Path

from pipelines.ingest import normalize as n
from pipelines.ingest.schema import CHI_TIEU, OCOP, THONG_TIN, TIEU_CHI, TONG_HOP
from pipelines.settings import DBT_PROJECT_DIR, HomePaths

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
STATUS_WORDS = ["Đạt", "Chưa đạt"]
PRODUCER_TYPES = ["HTX", "THT", "DN", "Hộ SX"]
TITLES_BY_SET = {  # 2026-2030 replaces advanced and model with "NTM hiện đại" (Decision 51/2025)
    "2016-2020": ["Chưa đạt", "NTM", "NTM nâng cao", "NTM kiểu mẫu"],
    "2021-2025": ["Chưa đạt", "NTM", "NTM nâng cao", "NTM kiểu mẫu"],
    "2026-2030": ["Chưa đạt", "NTM", "NTM hiện đại"],
}
FLOW_KEYS = {"so_mo_hinh_sxkd_moi", "so_htx_moi", "so_tht_moi", "so_dn_moi", "von_ke_hoach_trieu_dong",
             "von_giai_ngan_trieu_dong", "xi_mang_tan"}
LAST_ROW = 500  # dropdowns and formats reach this far down the table sheets


class TemplateError(ValueError):
    pass


def _seed(name: str) -> list[dict]:
    with (SEEDS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=1)
def _criteria_sets() -> tuple[dict, ...]:
    return tuple(_seed("criteria_sets.csv"))


def criteria_set_for(ky_bao_cao: str) -> str:
    """The set in force in the period's last month (seed `criteria_sets`): 2016-2020 through 2021
    (extended until the 2021-2025 set was issued in 2022), 2021-2025 for 2022-2025, 2026-2030 after."""
    month = n.period_last_month(ky_bao_cao)
    for row in _criteria_sets():
        if row["ap_dung_tu"] <= month <= row["ap_dung_den"]:
            return row["bo_tieu_chi"]
    raise TemplateError(f"không có bộ tiêu chí nào áp dụng cho kỳ {ky_bao_cao} (no criteria set in force)")


def criteria_of(bo_tieu_chi: str) -> list[tuple[int, str]]:
    rows = [r for r in _seed("criteria.csv") if r["bo_tieu_chi"] == bo_tieu_chi]
    return sorted((int(r["tieu_chi"]), r["ten_tieu_chi"]) for r in rows)


def commune_of(ma_xa: str, ky_bao_cao: str, paths: HomePaths | None) -> dict:
    """Name and province of the commune in the unit list of the period's era, else in the roster."""
    from pipelines import rules
    from pipelines.reference.admin_units import admin_units
    from pipelines.reference.roster import read_roster

    era = rules.era_of_month(n.period_last_month(ky_bao_cao))
    units = admin_units()
    match = units[(units.era == era) & (units.ma_xa == ma_xa)]
    if len(match):
        unit = match.iloc[0]
        return {"ten_xa": unit["ten_xa"], "ma_tinh": unit["ma_tinh"], "ten_tinh": unit["ten_tinh"]}
    roster = read_roster(paths.roster_file) if paths else None
    if roster is not None and len(roster):
        listed = roster[roster.ma_xa == ma_xa]
        if len(listed):
            return {"ten_xa": listed.iloc[0]["ten_xa"], "ma_tinh": listed.iloc[0]["ma_tinh"], "ten_tinh": None}
    raise TemplateError(
        f"mã xã {ma_xa} không có trong danh mục đơn vị hành chính ({era}) hay danh sách xã (unknown commune code)")


def template_bytes(ma_xa: str, ky_bao_cao: str, paths: HomePaths | None = None) -> bytes:
    import xlsxwriter  # only this command writes workbooks

    try:
        ma_xa, ky_bao_cao = n.code(ma_xa, 5), n.period(ky_bao_cao)
    except ValueError as error:
        raise TemplateError(str(error)) from None
    bo_tieu_chi = criteria_set_for(ky_bao_cao)
    commune = commune_of(ma_xa, ky_bao_cao, paths)

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.set_properties({"title": f"Báo cáo NTM xã {ma_xa} kỳ {ky_bao_cao}", "created": dt.datetime(2020, 1, 1)})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    given = book.add_format({"bg_color": "#F2F2F2"})  # pre-filled: do not change
    given_text = book.add_format({"bg_color": "#F2F2F2", "num_format": "@"})
    to_fill = book.add_format({"bg_color": "#FFF2CC"})
    text_cell = book.add_format({"num_format": "@"})
    date_cell = book.add_format({"num_format": "dd/mm/yyyy", "bg_color": "#FFF2CC"})
    note = book.add_format({"italic": True, "font_color": "#595959", "text_wrap": True})

    def table_sheet(name: str, labels: list[str], widths: list[int]):
        sheet = book.add_worksheet(name)
        sheet.write_row(0, 0, labels, header)
        for column, width in enumerate(widths):
            sheet.set_column(column, column, width)
        sheet.freeze_panes(1, 0)
        return sheet

    def dropdown(sheet, first_row, column, options, last_row=None, message=None):
        sheet.data_validation(first_row, column, last_row or first_row, column, {
            "validate": "list", "source": options, "error_title": "Giá trị không hợp lệ",
            "error_message": message or "Chọn một giá trị trong danh sách: " + ", ".join(options)})

    # ThongTin: key/value. Codes are stored as text so Excel keeps their leading zeros.
    sheet = table_sheet(THONG_TIN.sheet, ["Trường", "Giá trị", "Hướng dẫn"], [22, 34, 60])
    info = [
        ("ma_xa", ma_xa, given_text, "Mã xã 5 chữ số (GSO), không sửa"),
        ("ten_xa", commune["ten_xa"], given, "Tên xã theo danh mục"),
        ("ma_tinh", commune["ma_tinh"], given_text,
         "Mã tỉnh 2 chữ số" + (f" ({commune['ten_tinh']})" if commune.get("ten_tinh") else "")),
        ("ky_bao_cao", ky_bao_cao, given_text, "Kỳ báo cáo: YYYY-MM, YYYY-Qn, YYYY-H1, YYYY-H2 hoặc YYYY"),
        ("bo_tieu_chi", bo_tieu_chi, given_text, "Bộ tiêu chí áp dụng cho kỳ này"),
        ("ngay_lap", None, date_cell, "Ngày lập báo cáo, dd/mm/yyyy (bắt buộc)"),
        ("nguoi_lap", None, to_fill, "Người lập / đơn vị lập"),
        ("phien_ban_mau", 1, given, "Phiên bản mẫu, không sửa"),
    ]
    for row, (key, value, style, hint) in enumerate(info, start=1):
        sheet.write_string(row, 0, THONG_TIN.field(key).label)
        if value is None:
            sheet.write_blank(row, 1, None, style)
        elif isinstance(value, int):
            sheet.write_number(row, 1, value, style)
        else:
            sheet.write_string(row, 1, str(value), style)
        sheet.write_string(row, 2, hint, note)
    ngay_lap_row = next(i for i, item in enumerate(info, start=1) if item[0] == "ngay_lap")
    sheet.data_validation(ngay_lap_row, 1, ngay_lap_row, 1, {
        "validate": "date", "criteria": ">=", "value": dt.datetime(2010, 1, 1),
        "error_message": "Nhập ngày dạng dd/mm/yyyy"})

    # TieuChi: every criterion of the set, with its name; status from a dropdown.
    sheet = table_sheet(TIEU_CHI.sheet, [TIEU_CHI.field("tieu_chi").label, "Tên tiêu chí",
                                         TIEU_CHI.field("trang_thai").label, TIEU_CHI.field("ghi_chu").label],
                        [10, 50, 14, 40])
    criteria = criteria_of(bo_tieu_chi)
    for row, (number, name) in enumerate(criteria, start=1):
        sheet.write_number(row, 0, number, given)
        sheet.write_string(row, 1, name, given)
        sheet.write_blank(row, 2, None, to_fill)
    dropdown(sheet, 1, 2, STATUS_WORDS, last_row=len(criteria))

    # ChiTieu: optional sub-indicator values.
    sheet = table_sheet(CHI_TIEU.sheet, [f.label for f in CHI_TIEU.fields], [14, 14, 28])
    sheet.set_column(0, 0, 14, text_cell)  # "10.1" must stay text, not become a number

    # OCOP: one row per rated product valid at the period's end.
    labels = [f.label for f in OCOP.fields]
    sheet = table_sheet(OCOP.sheet, labels, [14, 32, 22, 28, 14, 8, 8, 18, 16, 14])
    keys = [f.key for f in OCOP.fields]
    dropdown(sheet, 1, keys.index("loai_chu_the"), PRODUCER_TYPES, last_row=LAST_ROW)
    sheet.data_validation(1, keys.index("so_sao"), LAST_ROW, keys.index("so_sao"), {
        "validate": "integer", "criteria": "between", "minimum": 1, "maximum": 5,
        "error_message": "Số sao từ 1 đến 5"})
    sheet.data_validation(1, keys.index("diem"), LAST_ROW, keys.index("diem"), {
        "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
        "error_message": "Điểm từ 0 đến 100"})
    sheet.set_column(keys.index("ngay_quyet_dinh"), keys.index("ngay_quyet_dinh"), 16,
                     book.add_format({"num_format": "dd/mm/yyyy"}))

    # TongHop: the commune's own totals; stocks at the period's end, flows within the period.
    sheet = table_sheet(TONG_HOP.sheet, ["Trường", "Giá trị", "Loại"], [30, 20, 40])
    for row, f in enumerate(TONG_HOP.fields, start=1):
        sheet.write_string(row, 0, f.label)
        sheet.write_blank(row, 1, None, to_fill)
        kind = "phát sinh trong kỳ (flow)" if f.key in FLOW_KEYS else "tại cuối kỳ (stock)"
        sheet.write_string(row, 2, kind, note)
        if f.key == "danh_hieu":
            dropdown(sheet, row, 1, TITLES_BY_SET[bo_tieu_chi])

    guide = book.add_worksheet("HuongDan")
    guide.set_column(0, 0, 100)
    for row, line in enumerate([
        f"Báo cáo định kỳ xã {commune['ten_xa']} ({ma_xa}), kỳ {ky_bao_cao}, bộ tiêu chí {bo_tieu_chi}.",
        "Ô màu xám đã điền sẵn, không sửa. Ô màu vàng do xã điền.",
        "TieuChi: chọn Đạt hoặc Chưa đạt cho từng tiêu chí (để trống là Chưa đạt).",
        "OCOP: mỗi sản phẩm OCOP còn hiệu lực một dòng; để trống nếu xã không có sản phẩm.",
        "Không đổi tên các trang tính và dòng tiêu đề. Kiểm tra trước khi gửi: ntm validate <tệp>.",
    ]):
        guide.write_string(row, 0, line)
    book.close()
    return buffer.getvalue()


def write_template(ma_xa: str, ky_bao_cao: str, target: Path, paths: HomePaths | None = None) -> Path:
    data = template_bytes(ma_xa, ky_bao_cao, paths)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
