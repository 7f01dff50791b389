"""The xlsx path of the readers on real workbooks written by xlsxwriter (our writer) and openpyxl."""

import io

import openpyxl

from pipelines.ingest.readers import CLAIMS_KIND, SUBMISSION, parse_bytes
from pipelines.samples import Submission, bundle_bytes, claims_workbook_bytes, workbook_bytes

LINEAGE = {"submission_id", "source_sheet", "source_row", "source_column"}


def a_submission(**overrides) -> Submission:
    values = dict(
        ma_xa="05776", ten_xa="Xã Tân Cương", ma_tinh="19", ky_bao_cao="2020-H1", bo_tieu_chi="2016-2020",
        ngay_lap="2020-06-20", criteria_met=set(range(1, 17)),
        totals={"so_tieu_chi_dat": 16, "danh_hieu": "Chưa đạt", "so_san_pham_ocop": 1, "so_san_pham_3_sao": 1,
                "von_ke_hoach_trieu_dong": 1200, "von_giai_ngan_trieu_dong": "845,5"},
        ocop=[{"ma_san_pham": "OCOP-1", "ten_san_pham": "Chè Tân Cương", "nhom_san_pham": "Thực phẩm",
               "chu_the": "HTX chè", "loai_chu_the": "HTX", "diem": 68, "so_sao": 3,
               "so_quyet_dinh": "12/QĐ-UBND", "ngay_quyet_dinh": "2019-11-20", "cap_danh_gia": "huyện"}],
        sub_indicators=[{"ma_chi_tieu": "10.1", "gia_tri": "45,5", "don_vi": "triệu đồng/người/năm"}],
    )
    values.update(overrides)
    return Submission(**values)


def without_lineage(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in LINEAGE and v is not None} for row in rows]


def test_workbook_and_csv_bundle_of_the_same_submission_give_the_same_rows():
    submission = a_submission()
    from_xlsx = parse_bytes("bao_cao.xlsx", workbook_bytes(submission))
    from_zip = parse_bytes("bao_cao.zip", bundle_bytes([submission]))
    assert from_xlsx.kind == from_zip.kind == SUBMISSION
    assert from_xlsx.problems == [] and from_zip.problems == []
    for table in ("submissions", "tieu_chi", "chi_tieu", "ocop", "tong_hop"):
        assert without_lineage(from_xlsx.records(table)) == without_lineage(from_zip.records(table)), table
    totals = {r["truong"]: r["gia_tri"] for r in from_xlsx.records("tong_hop")}
    assert totals["von_giai_ngan_trieu_dong"] == "845.5"
    assert from_xlsx.records("ocop")[0]["ngay_quyet_dinh"] == "2019-11-20"  # a real date cell
    assert from_xlsx.records("tieu_chi")[0]["source_sheet"] == "TieuChi"
    assert from_xlsx.records("tieu_chi")[0]["source_row"] == 2


def test_the_writer_is_deterministic():
    assert workbook_bytes(a_submission()) == workbook_bytes(a_submission())


def test_openpyxl_workbook_with_blank_rows_totals_row_extra_sheet_and_a_product_named_like_a_total():
    """What an officer's Excel looks like: renamed nothing, but blank rows, a totals row, notes."""
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission())))
    ocop = workbook["OCOP"]
    ocop.append([])
    ocop.append([None, "Cồng chiêng Tây Nguyên", "Lưu niệm", "Hộ ông A", "Hộ SX", 72, 4, "5/QĐ-UBND",
                 "15/03/2020", "tỉnh"])
    ocop.append(["Tổng cộng", None, None, None, None, None, 7])
    workbook.create_sheet("GhiChu").append(["Ghi chú của xã", "không phải dữ liệu"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_bytes("bao_cao.xlsx", buffer.getvalue())
    assert parsed.problems == []
    names = [row["ten_san_pham"] for row in parsed.records("ocop")]
    assert names == ["Chè Tân Cương", "Cồng chiêng Tây Nguyên"]
    assert parsed.records("ocop")[1]["source_row"] == 4 and parsed.records("ocop")[1]["ngay_quyet_dinh"] == "2020-03-15"


def test_a_blank_ocop_sheet_means_no_products():
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission(ocop=[]))))
    workbook["OCOP"].delete_rows(1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_bytes("bao_cao.xlsx", buffer.getvalue())
    assert parsed.problems == [] and parsed.records("ocop") == []


def test_claims_workbook_with_a_chiso_sheet_and_vietnamese_headers():
    claims = [dict(cap="tỉnh", ma_don_vi=1, tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa", gia_tri=121),
              dict(cap="tinh", ma_don_vi="01", tu_thang="2020-01", den_thang="2020-06",
                   chi_so="ty_le_xa_dat_chuan", gia_tri="72,0%")]
    parsed = parse_bytes("chi_so.xlsx", claims_workbook_bytes(claims, labels=True))
    assert parsed.kind == CLAIMS_KIND and parsed.problems == []
    rows = parsed.records("claims")
    assert [(r["cap"], r["ma_don_vi"], r["gia_tri"], r["so_chu_so_thap_phan"]) for r in rows] == [
        ("tinh", "01", "121", 0), ("tinh", "01", "72.0", 1)]
    assert rows[1]["source_sheet"] == "ChiSo" and rows[1]["source_row"] == 3


def test_a_large_batch_parsed_in_worker_processes_loads_the_same_rows(tmp_path, monkeypatch):
    import duckdb

    from pipelines.ingest import store
    from pipelines.settings import HomePaths

    files = {f"{code}.xlsx": workbook_bytes(a_submission(ma_xa=code)) for code in ("05776", "05779", "05773")}
    loaded = []
    for workers in (1, 2):
        home = HomePaths(tmp_path / f"home_{workers}").ensure()
        for name, data in files.items():
            (home.landing / name).write_bytes(data)
        with duckdb.connect(str(home.warehouse)) as conn:
            result = store.ingest_landing(home, conn, workers=workers)
            loaded.append(conn.execute("select ma_xa, tieu_chi, trang_thai, source_row from raw.tieu_chi "
                                       "order by all").fetchall())
        assert sorted(result.accepted) == sorted(files)
    assert len(loaded[0]) == 57 and loaded[0] == loaded[1]


def test_odd_numbers_and_foreign_digits_are_cell_problems_not_crashes():
    """A typo in one cell is a problem naming its sheet, row and column; fullwidth and Arabic-Indic
    digits are read as digits; an ambiguous `1.250` count is read as thousands with a warning."""
    submission = a_submission(ma_xa="０５７７６", ky_bao_cao="٢٠٢٠-H1", totals={
        "so_tieu_chi_dat": "１６", "so_htx_moi": "1.250", "so_dn_moi": "2147483648", "so_tht_moi": "-0",
        "von_ke_hoach_trieu_dong": "1e30", "von_giai_ngan_trieu_dong": "nan", "xi_mang_tan": "99999999999999999999"})
    for form, data in (("xlsx", workbook_bytes(submission)), ("zip", bundle_bytes([submission]))):
        parsed = parse_bytes(f"bao_cao.{form}", data)
        found = {(p.column.split(" ")[-1].strip("()") if form == "xlsx" else p.column, p.rule, p.severity)
                 for p in parsed.problems}
        column = "gia_tri" if form == "xlsx" else None
        expected = {(column or key, rule, severity) for key, rule, severity in (
            ("so_htx_moi", "ambiguous_number", "warning"), ("so_dn_moi", "invalid_value", "error"),
            ("von_ke_hoach_trieu_dong", "invalid_value", "error"), ("von_giai_ngan_trieu_dong", "invalid_value", "error"),
            ("xi_mang_tan", "invalid_value", "error"))}
        assert found == expected, form
        assert all(p.row for p in parsed.problems)
        assert parsed.records("submissions") == [] or parsed.records("submissions")[0]["ma_xa"] == "05776"
    totals = {"so_tieu_chi_dat": "１６", "so_htx_moi": "1.250", "so_tht_moi": "-0"}
    clean = parse_bytes("bao_cao.xlsx", workbook_bytes(a_submission(ma_xa="０５７７６", ky_bao_cao="٢٠٢٠-H1", totals=totals)))
    assert [(p.rule, p.severity, p.row) for p in clean.problems] == [("ambiguous_number", "warning", 3)]
    assert clean.records("submissions")[0]["ma_xa"] == "05776" and clean.records("submissions")[0]["ky_bao_cao"] == "2020-H1"
    assert {r["truong"]: r["gia_tri"] for r in clean.records("tong_hop")} == {
        "so_tieu_chi_dat": "16", "so_htx_moi": "1250", "so_tht_moi": "0"}


def test_a_warning_names_the_commune_and_period_of_its_row():
    submission = a_submission(totals={"so_tieu_chi_dat": 16, "so_htx_moi": "1.250"})
    other = a_submission(ma_xa="05779", totals={"so_tieu_chi_dat": 16, "so_htx_moi": 2})
    for name, data in (("bao_cao.xlsx", workbook_bytes(submission)), ("huyen.zip", bundle_bytes([other, submission]))):
        [warning] = parse_bytes(name, data).problems
        assert (warning.rule, warning.ma_xa, warning.ky_bao_cao) == ("ambiguous_number", "05776", "2020-H1"), name
