"""Values as shown (contract §2): a workbook cell's number format decides its decimals and percent,
a formula's cached value counts as displayed, text keeps its written decimals. Real workbooks
written by openpyxl (formats) and xlsxwriter (formulas with cached values), read by the real reader,
and one claims workbook through the whole pipeline."""

import io

import openpyxl
import pytest
import xlsxwriter

from tests.conftest import copy_sample, query
from pipelines.ingest import number_formats
from pipelines.ingest.readers import parse_bytes
from pipelines.samples import workbook_bytes
from tests.test_ingest_xlsx import a_submission

HEADER = ["cap", "ma_don_vi", "tu_thang", "den_thang", "chi_so", "gia_tri", "nguon"]


def claims_workbook(rows: list[tuple]) -> bytes:
    """(tu_thang, chi_so, value, number format or None) per row; Thái Nguyên up to 2020-06."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "ChiSo"
    sheet.append(HEADER)
    for line, (first, metric, value, fmt) in enumerate(rows, start=2):
        sheet.append(["tinh", "19", first, "2020-06", metric, value, "kiểm thử"])
        if fmt:
            sheet.cell(line, 6).number_format = fmt
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def claimed(data: bytes) -> list[tuple]:
    parsed = parse_bytes("chi_so.xlsx", data)
    assert not parsed.has_errors, [p.describe() for p in parsed.problems]
    return [(r["gia_tri"], r["so_chu_so_thap_phan"], r["gia_tri_goc"]) for r in parsed.records("claims")]


def test_percent_and_decimal_formats_decide_the_value_and_its_decimals():
    data = claims_workbook([
        ("2020-01", "ty_le_xa_dat_chuan", 0.72, "0%"),
        ("2020-01", "ty_le_xa_dat_chuan", 0.7203, "0.00%"),
        ("2020-01", "binh_quan_tieu_chi", 45.5, "0.0"),
        ("2020-01", "binh_quan_tieu_chi", 45, "0.0"),  # a whole number shown with one decimal
        ("2020-01", "binh_quan_tieu_chi", 17.25, '#,##0.0 "tc";[Red]-#,##0.0'),  # rounded half up, as Excel
        ("2020-01", "ty_le_xa_dat_chuan", 0.72, None),  # General: as stored
        ("2020-01", "so_xa", 121, "#,##0"),
        ("2020-01", "ty_le_xa_dat_chuan", "72,0", None),  # text: the decimals written
        ("2020-01", "ty_le_xa_dat_chuan", "72%", "@"),
    ])
    assert claimed(data) == [
        ("72", 0, "72%"), ("72.03", 2, "72.03%"), ("45.5", 1, "45.5"), ("45.0", 1, "45.0"), ("17.3", 1, "17.3"),
        ("0.72", 2, "0.72"), ("121", 0, "121"), ("72.0", 1, "72,0"), ("72", 0, "72%"),
    ]


def test_a_formula_counts_as_its_cached_value_displayed():
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("ChiSo")
    sheet.write_row(0, 0, HEADER)
    percent = book.add_format({"num_format": "0.0%"})
    for line, (formula, value, fmt) in enumerate([
        ("=87/121", 87 / 121, percent),          # 71.9008…% shown as 71.9%
        ("=87/121*100", 87 / 121 * 100, None),  # General: the 11 characters Excel shows
    ], start=1):
        sheet.write_row(line, 0, ["tinh", "19", "2020-01", "2020-06", "ty_le_xa_dat_chuan"])
        sheet.write_formula(line, 5, formula, fmt, value)
    book.close()
    assert claimed(buffer.getvalue()) == [("71.9", 1, "71.9%"), ("71.90082645", 8, "71.90082645")]


def test_submission_numbers_are_read_as_shown():
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission())))
    totals, detail, ocop = workbook["TongHop"], workbook["ChiTieu"], workbook["OCOP"]
    capital = next(row[1] for row in totals.iter_rows() if row[0].value == "von_giai_ngan_trieu_dong")
    capital.value, capital.number_format = 845.46, "#,##0.0"
    detail["B2"].value, detail["B2"].number_format = 0.855, "0.0%"
    score = next(c for c in ocop[1] if c.value == "diem")
    cell = ocop.cell(2, score.column)
    cell.value, cell.number_format = 68.04, "0.0"
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_bytes("bao_cao.xlsx", buffer.getvalue())
    assert parsed.problems == []
    assert {r["truong"]: r["gia_tri"] for r in parsed.records("tong_hop")}["von_giai_ngan_trieu_dong"] == "845.5"
    assert parsed.records("chi_tieu")[0]["gia_tri"] == "85.5"
    assert parsed.records("ocop")[0]["diem"] == "68.0"


@pytest.mark.parametrize("code, expected", [
    ("0%", (0, True)), ("0.00%", (2, True)), ("#,##0.000", (3, False)), ("General", None), ("@", None),
    ("dd/mm/yyyy", None), ("0.00E+00", None), ("# ?/?", None), ('[Red]0.0;[Blue]-0.0', (1, False)),
    ('0.0 "m%"', (1, False)), ("[$-42A]#,##0.00", (2, False)),
])
def test_format_codes(code, expected):
    assert number_formats.classify(code) == expected


def test_a_workbook_without_decimal_or_percent_formats_reads_no_sheet_xml():
    # our own template writer uses date formats only: styles.xml alone says there is nothing to do
    assert number_formats.shown_formats(workbook_bytes(a_submission()), {"tonghop", "chiso"}, str.lower) == {}


def test_claims_shown_as_percent_reconcile_through_the_pipeline(home, run):
    """87 of 121 Thái Nguyên communes hold a title (71.90…%): 0.72 in a `0%` cell is 72 and matches;
    0.719 in `0.00%` is 71.90 and matches; 0.7203 in `0.00%` is 72.03 and is a mismatch carrying both numbers."""
    copy_sample(home)
    (home.landing / "chi_so_dinh_dang.xlsx").write_bytes(claims_workbook([
        ("2020-04", "ty_le_xa_dat_chuan", 0.72, "0%"),
        ("2020-05", "ty_le_xa_dat_chuan", 0.719, "0.00%"),
        ("2020-06", "ty_le_xa_dat_chuan", 0.7203, "0.00%"),
    ]))
    assert run(home) == 2  # the 72.03 claim withholds publication
    rows = query(home.warehouse, """
        select tu_thang, gia_tri_bao_cao, so_chu_so_thap_phan, round(gia_tri_tinh_toan, 4), khop
        from claim_reconciliation where file_name = 'chi_so_dinh_dang.xlsx' order by tu_thang""")
    assert rows == [("2020-04", 72.0, 0, 71.9008, True), ("2020-05", 71.9, 2, 71.9008, True),
                    ("2020-06", 72.03, 2, 71.9008, False)]
    [(severity, status, message)] = query(home.warehouse, """
        select muc_do, trang_thai, mo_ta from quality_issues
        where ma_kiem_tra = 'CLAIM_MISMATCH' and ky = '2020-06..2020-06'""")
    assert (severity, status) == ("error", "open")
    assert "72.03%" in message and "71.9008" in message and "chi_so_dinh_dang.xlsx" in message
