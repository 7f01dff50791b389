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
        assert without_lineage(from_xlsx.rows[table]) == without_lineage(from_zip.rows[table]), table
    totals = {r["truong"]: r["gia_tri"] for r in from_xlsx.rows["tong_hop"]}
    assert totals["von_giai_ngan_trieu_dong"] == "845.5"
    assert from_xlsx.rows["ocop"][0]["ngay_quyet_dinh"] == "2019-11-20"  # a real date cell
    assert from_xlsx.rows["tieu_chi"][0]["source_sheet"] == "TieuChi"
    assert from_xlsx.rows["tieu_chi"][0]["source_row"] == 2


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
    names = [row["ten_san_pham"] for row in parsed.rows["ocop"]]
    assert names == ["Chè Tân Cương", "Cồng chiêng Tây Nguyên"]
    assert parsed.rows["ocop"][1]["source_row"] == 4 and parsed.rows["ocop"][1]["ngay_quyet_dinh"] == "2020-03-15"


def test_a_blank_ocop_sheet_means_no_products():
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission(ocop=[]))))
    workbook["OCOP"].delete_rows(1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_bytes("bao_cao.xlsx", buffer.getvalue())
    assert parsed.problems == [] and parsed.rows["ocop"] == []


def test_claims_workbook_with_a_chiso_sheet_and_vietnamese_headers():
    claims = [dict(cap="tỉnh", ma_don_vi=1, tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa", gia_tri=121),
              dict(cap="tinh", ma_don_vi="01", tu_thang="2020-01", den_thang="2020-06",
                   chi_so="ty_le_xa_dat_chuan", gia_tri="72,0%")]
    parsed = parse_bytes("chi_so.xlsx", claims_workbook_bytes(claims, labels=True))
    assert parsed.kind == CLAIMS_KIND and parsed.problems == []
    rows = parsed.rows["claims"]
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
