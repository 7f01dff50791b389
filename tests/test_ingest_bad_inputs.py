"""One test per class of bad input, as files really arrive: each asserts the error (rule, sheet, row,
column) and that nothing was lost (the file kept in quarantine beside its reasons, recorded in
raw.files and raw.ingest_problems, landing left empty).

Most tests load a real DuckDB file through `ingest_landing`; one module fixture runs the whole
pipeline once for what only dbt and the audit decide (scope, unknown codes, superseding versions).
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile

import duckdb
import openpyxl
import pytest

from pipelines.cli import main, run_pipeline
from pipelines.ingest.store import ingest_landing
from pipelines.ingest.validate import validate_file
from pipelines.samples import Submission, bundle_bytes, workbook_bytes, write_roster
from pipelines.settings import HomePaths
from tests.conftest import query

DUC_LUONG = "05776"  # Xã Đức Lương, huyện Đại Từ, tỉnh Thái Nguyên (19)


def a_submission(ma_xa=DUC_LUONG, ten_xa="Xã Đức Lương", ky="2020-06", ngay_lap="2020-06-25", **overrides):
    values = dict(
        ma_xa=ma_xa, ten_xa=ten_xa, ma_tinh="19", ky_bao_cao=ky, bo_tieu_chi="2016-2020", ngay_lap=ngay_lap,
        criteria_met=set(range(1, 18)),
        totals={"so_tieu_chi_dat": 17, "danh_hieu": "Chưa đạt", "so_san_pham_ocop": 1, "so_san_pham_3_sao": 1},
        ocop=[{"ten_san_pham": "Chè Đức Lương", "nhom_san_pham": "Thực phẩm", "chu_the": "HTX chè",
               "loai_chu_the": "HTX", "diem": 65, "so_sao": 3, "so_quyet_dinh": "12/QĐ-UBND",
               "ngay_quyet_dinh": "2019-11-20", "cap_danh_gia": "huyện"}],
    )
    values.update(overrides)
    return Submission(**values)


def edited(data: bytes, edit) -> bytes:
    """A workbook changed the way an officer would, with openpyxl (a different writer from ours)."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    edit(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ingest(home: HomePaths, files: dict[str, bytes]):
    for name, data in files.items():
        (home.landing / name).write_bytes(data)
    with duckdb.connect(str(home.warehouse)) as conn:
        return ingest_landing(home, conn)


def assert_rejected(home: HomePaths, name: str, rule: str, sheet=None, row=None, column=None) -> dict:
    """The file is in quarantine with a reasons file naming the problem, recorded, and loaded nowhere."""
    assert list(home.landing.iterdir()) == []
    [kept] = [p for p in home.quarantine.iterdir() if p.name.endswith(f"_{name}")]
    reasons = json.loads(kept.with_name(kept.name + ".reasons.json").read_text("utf-8"))
    assert reasons["file"] == name and reasons["sha256"].startswith(kept.name[:12])
    matching = [p for p in reasons["problems"] if p["rule"] == rule]
    assert matching, reasons["problems"]
    problem = matching[0]
    assert (problem["sheet"], problem["row"], problem["column"]) == (sheet, row, column), problem
    assert problem["file"] == name and problem["severity"] == "error" and problem["message"]
    sha = reasons["sha256"]
    assert query(home.warehouse, "select file_name, status, stored_path from raw.files where file_sha256 = ?",
                 [sha]) == [(name, "rejected", f"quarantine/{kept.name}")]
    recorded = query(home.warehouse, 'select sheet, "row", "column" from raw.ingest_problems '
                                     "where file_sha256 = ? and rule = ?", [sha, rule])
    assert (sheet, row, column) in recorded
    for table in ("submissions", "tieu_chi", "ocop", "tong_hop", "claims"):
        assert query(home.warehouse, f"select count(*) from raw.{table} where file_sha256 = ?", [sha]) == [(0,)]
    return problem


def test_truncated_zip_bundle(home):
    data = bundle_bytes([a_submission()])
    ingest(home, {"huyen_dai_tu.zip": data[: len(data) // 2]})
    problem = assert_rejected(home, "huyen_dai_tu.zip", "unreadable_file")
    assert "truncated" in problem["message"]


def test_xlsx_that_is_not_a_zip(home):
    ingest(home, {"bao_cao.xlsx": "<html><table><tr><td>Mã xã</td></tr></table></html>".encode()})
    problem = assert_rejected(home, "bao_cao.xlsx", "unreadable_file")
    assert "not a valid workbook" in problem["message"]


def test_wrong_sheet_names(home):
    def rename(book):
        book["ThongTin"].title = "Sheet1"

    def rename_criteria(book):
        book["TieuChi"].title = "Sheet2"

    ingest(home, {"khong_co_thong_tin.xlsx": edited(workbook_bytes(a_submission()), rename),
                  "khong_co_tieu_chi.xlsx": edited(workbook_bytes(a_submission(ky="2020-07")), rename_criteria)})
    problem = assert_rejected(home, "khong_co_thong_tin.xlsx", "unrecognised_workbook")
    assert "Sheet1, TieuChi, ChiTieu, OCOP, TongHop" in problem["message"]
    assert_rejected(home, "khong_co_tieu_chi.xlsx", "missing_sheet", sheet="TieuChi")


def test_missing_required_key(home):
    def drop_criteria_set(book):
        sheet = book["ThongTin"]
        [row] = [cell.row for cell in sheet["A"] if cell.value == "bo_tieu_chi"]
        sheet.delete_rows(row)

    ingest(home, {"thieu_bo_tieu_chi.xlsx": edited(workbook_bytes(a_submission()), drop_criteria_set)})
    assert_rejected(home, "thieu_bo_tieu_chi.xlsx", "missing_key", sheet="ThongTin", column="bo_tieu_chi")


def test_missing_required_column_in_a_csv_bundle(home):
    data = bundle_bytes([a_submission()])
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "tieu_chi.csv":
                content = content.replace(b"trang_thai", b"ket_qua")
            target.writestr(info, content)
    ingest(home, {"thieu_cot.zip": buffer.getvalue()})
    assert_rejected(home, "thieu_cot.zip", "missing_column", sheet="tieu_chi.csv", row=1, column="trang_thai")


def test_repeated_criterion(home):
    def repeat_criterion_5(book):
        book["TieuChi"].append([5, "Đạt"])

    ingest(home, {"lap_tieu_chi.xlsx": edited(workbook_bytes(a_submission()), repeat_criterion_5)})
    problem = assert_rejected(home, "lap_tieu_chi.xlsx", "repeated_criterion", sheet="TieuChi", row=21,
                              column="A (tieu_chi)")
    assert "also on row 6" in problem["message"] and problem["ma_xa"] == DUC_LUONG


def test_missing_criterion(home):
    def drop_criterion_7(book):
        book["TieuChi"].delete_rows(8)

    ingest(home, {"thieu_tieu_chi.xlsx": edited(workbook_bytes(a_submission()), drop_criterion_7)})
    problem = assert_rejected(home, "thieu_tieu_chi.xlsx", "missing_criterion", sheet="TieuChi",
                              column="tieu_chi")
    assert "thiếu tiêu chí 7 " in problem["message"]


def test_seven_stars(home):
    product = {**a_submission().ocop[0], "so_sao": 7, "diem": 95}
    ingest(home, {"bay_sao.xlsx": workbook_bytes(a_submission(ocop=[product]))})
    problem = assert_rejected(home, "bay_sao.xlsx", "invalid_value", sheet="OCOP", row=2, column="G (so_sao)")
    assert "1 to 5" in problem["message"]


def test_score_outside_its_star_band(home):
    product = {**a_submission().ocop[0], "so_sao": 3, "diem": "92,5"}
    ingest(home, {"lech_sao.zip": bundle_bytes([a_submission(ocop=[product])])})
    problem = assert_rejected(home, "lech_sao.zip", "ocop_score_band", sheet="ocop.csv", row=2, column="diem")
    assert "92.5" in problem["message"] and "50-70" in problem["message"]


def test_nfd_names_are_accepted_and_stored_nfc(home):
    nfd = lambda text: unicodedata.normalize("NFD", text)  # noqa: E731 - what macOS and some keyboards send
    product = {**a_submission().ocop[0], "ten_san_pham": nfd("Chè Đức Lương"), "chu_the": nfd("HTX chè Hùng Sơn")}
    submission = a_submission(ten_xa=nfd("Xã Đức Lương"), ocop=[product])
    (home.landing / "nfd.xlsx").write_bytes(workbook_bytes(submission))
    assert [p.rule for p in validate_file(home.landing / "nfd.xlsx", home)] == []  # the name matches its code
    result = ingest(home, {})
    assert result.accepted == ["nfd.xlsx"]
    assert query(home.warehouse, "select ten_xa from raw.submissions") == [("Xã Đức Lương",)]
    assert query(home.warehouse, "select ten_san_pham, chu_the from raw.ocop") == [("Chè Đức Lương", "HTX chè Hùng Sơn")]
    stored = query(home.warehouse, "select ten_xa from raw.submissions")[0][0]
    assert unicodedata.is_normalized("NFC", stored) and stored != nfd(stored)


def test_code_stored_as_a_number_keeps_its_leading_zero(home):
    data = workbook_bytes(a_submission(), ma_xa_as_number=True)
    cell = openpyxl.load_workbook(io.BytesIO(data))["ThongTin"]["B2"].value
    assert cell == 5776  # what Excel holds
    result = ingest(home, {"so.xlsx": data})
    assert result.accepted == ["so.xlsx"]
    assert query(home.warehouse, "select distinct ma_xa from raw.tieu_chi") == [(DUC_LUONG,)]
    assert query(home.warehouse, "select ma_xa, ma_tinh from raw.submissions") == [(DUC_LUONG, "19")]


def test_vietnamese_headers_in_workbooks_and_csv_bundles(home):
    csv_bundle = bundle_bytes([a_submission(ky="2020-07")])
    source = zipfile.ZipFile(io.BytesIO(csv_bundle))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            header, _, body = source.read(info).partition(b"\n")
            header = (header.replace(b"ma_xa", "MÃ XÃ".encode()).replace(b"ky_bao_cao", "Kỳ báo cáo".encode())
                      .replace(b"trang_thai", "Trạng  thái".encode()))
            target.writestr(info, b"\xef\xbb\xbf" + header + b"\n" + body)  # with a BOM, as Excel writes CSV
    result = ingest(home, {"nhan.xlsx": workbook_bytes(a_submission(), labels=True),
                           "nhan.zip": buffer.getvalue()})
    assert sorted(result.accepted) == ["nhan.xlsx", "nhan.zip"]
    assert query(home.warehouse, "select ky_bao_cao, count(*), count_if(trang_thai = 'true') from raw.tieu_chi "
                                 "group by all order by 1") == [("2020-06", 19, 17), ("2020-07", 19, 17)]
    labels = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission(), labels=True)))
    assert labels["OCOP"]["G1"].value == "Số sao" and labels["ThongTin"]["A2"].value == "Mã xã"


def test_the_same_file_twice_changes_nothing(home):
    data = workbook_bytes(a_submission())
    first = ingest(home, {"bao_cao.xlsx": data, "ban_sao.xlsx": data})  # twice in one batch
    assert len(first.accepted) == 1 and len(first.duplicates) == 1
    before = query(home.warehouse, "select (select count(*) from raw.files), (select count(*) from raw.tieu_chi)")
    second = ingest(home, {"gui_lai.xlsx": data})  # and again a day later, under another name
    assert second.duplicates == ["gui_lai.xlsx"] and second.accepted == []
    assert query(home.warehouse, "select (select count(*) from raw.files), (select count(*) from raw.tieu_chi)") \
        == before == [(1, 19)]
    assert list(home.landing.iterdir()) == [] and len(list(home.archive.iterdir())) == 1


def test_resubmission_keeps_both_versions_in_raw(home):
    ingest(home, {"lan_1.xlsx": workbook_bytes(a_submission(ngay_lap="2020-06-20"))})
    corrected = a_submission(ngay_lap="2020-06-28", criteria_met=set(range(1, 19)))
    ingest(home, {"lan_2.xlsx": workbook_bytes(corrected)})
    assert query(home.warehouse, "select s.ngay_lap, count_if(t.trang_thai = 'true') from raw.submissions s "
                                 "join raw.tieu_chi t using (submission_id) group by all order by 1") == [
        ("2020-06-20", 17), ("2020-06-28", 18)]
    assert len(list(home.archive.iterdir())) == 2


# --- what only the whole pipeline decides: reference, roster scope, superseding versions ----------

THAI_NGUYEN_ROSTER = ["05776", "05779", "05773"]  # three communes of Đại Từ; the roster defines province 19
OUTSIDE_ROSTER = "05785"  # a real commune of Thái Nguyên that the roster leaves out
UNKNOWN = "99999"


@pytest.fixture(scope="module")
def pipeline_home(tmp_path_factory):
    from pipelines.reference.admin_units import admin_units

    units = admin_units().set_index(["era", "ma_xa"])
    home = HomePaths(tmp_path_factory.mktemp("bad_inputs") / "home").ensure()
    write_roster(home.roster_file, [
        {"ma_xa": code, "ten_xa": units.loc[("legacy", code), "ten_xa"], "ma_huyen": "171", "ma_tinh": "19"}
        for code in THAI_NGUYEN_ROSTER])
    # The corrected report (later ngay_lap) arrives first, the original after: ngay_lap decides.
    corrected = a_submission(ngay_lap="2020-06-28", criteria_met=set(range(1, 19)),
                             totals={"so_tieu_chi_dat": 18, "danh_hieu": "Chưa đạt"}, ocop=[])
    ingest(home, {"dinh_chinh.xlsx": workbook_bytes(corrected)})
    others = {code: units.loc[("legacy", code), "ten_xa"] for code in (THAI_NGUYEN_ROSTER[1:] + [OUTSIDE_ROSTER])}
    for path, data in {
        "ban_dau.xlsx": workbook_bytes(a_submission(ngay_lap="2020-06-20", totals={"so_tieu_chi_dat": 17}, ocop=[])),
        "ngoai_danh_sach.xlsx": workbook_bytes(a_submission(OUTSIDE_ROSTER, others[OUTSIDE_ROSTER], ocop=[],
                                                            totals={"so_tieu_chi_dat": 17})),
        "ma_la.xlsx": workbook_bytes(a_submission(UNKNOWN, "Xã Không Có", ocop=[], totals={"so_tieu_chi_dat": 17})),
        **{f"{code}.xlsx": workbook_bytes(a_submission(code, others[code], ocop=[], totals={"so_tieu_chi_dat": 17}))
           for code in THAI_NGUYEN_ROSTER[1:]},
    }.items():
        (home.landing / path).write_bytes(data)
    exit_code = run_pipeline(home)
    return home, exit_code


def issues(home, code):
    return query(home.warehouse, "select ma_don_vi, ky, muc_do, trang_thai, mo_ta from quality_issues "
                                 "where ma_kiem_tra = ?", [code])


def test_unknown_commune_code_is_quarantined_by_the_run_and_fails_validate(pipeline_home, capsys):
    """The run applies validate's reference rules at ingest (reference_rules.py): the same verdict."""
    home, exit_code = pipeline_home
    assert exit_code == 2  # publication withheld by the error issues
    [(unit, ky, severity, status, message)] = issues(home, "INGEST_UNKNOWN_COMMUNE")
    assert (unit, ky, severity, status) == (UNKNOWN, "2020-06", "error", "open")
    assert "ma_la.xlsx" in message and "sheet ThongTin" in message
    [(status, stored)] = query(home.warehouse, "select status, stored_path from raw.files where file_name = 'ma_la.xlsx'")
    assert status == "rejected" and (home.home / stored).exists()  # kept on record
    assert query(home.warehouse, "select count(*) from raw.submissions where ma_xa = ?", [UNKNOWN]) == [(0,)]

    probe = home.home / "ma_la_probe.xlsx"
    probe.write_bytes(workbook_bytes(a_submission(UNKNOWN, "Xã Không Có")))
    assert main(["--home", str(home.home), "validate", str(probe)]) == 1
    out = capsys.readouterr().out
    assert "[unknown_commune] ma_la_probe.xlsx: sheet ThongTin, row 2, column ma_xa" in out


def test_commune_outside_the_roster_loads_as_an_out_of_scope_error_issue_and_validate_warns(pipeline_home):
    """Not quarantined: a roster mended later resolves the issue without a resubmission."""
    home, _ = pipeline_home
    [(unit, ky, severity, status, message)] = issues(home, "SUBMISSION_OUT_OF_SCOPE")
    assert (unit, ky, severity, status) == (OUTSIDE_ROSTER, "2020-06", "error", "open")
    assert "ngoai_danh_sach.xlsx" in message
    [(stored, warnings)] = query(home.warehouse, "select stored_path, n_warnings from raw.files "
                                                 "where file_name = 'ngoai_danh_sach.xlsx' and status = 'accepted'")
    assert warnings == 1
    [problem] = validate_file(home.home / stored, home)
    assert (problem.rule, problem.severity) == ("out_of_roster", "warning")


def test_resubmission_later_ngay_lap_supersedes_and_both_are_kept(pipeline_home):
    home, _ = pipeline_home
    [(schema,)] = query(home.warehouse, "select table_schema from information_schema.tables "
                                        "where table_name = 'int_submission_versions'")
    versions = query(home.warehouse, f"""
        select v.ngay_lap, v.phien_ban_thu, v.is_current, f.file_name
        from {schema}.int_submission_versions v join raw.files f using (file_sha256)
        where v.ma_xa = '{DUC_LUONG}' and v.ky_bao_cao = '2020-06' order by v.phien_ban_thu""")
    assert [(str(d)[:10], rank, current, name) for d, rank, current, name in versions] == [
        ("2020-06-28", 1, True, "dinh_chinh.xlsx"), ("2020-06-20", 2, False, "ban_dau.xlsx")]
    assert query(home.warehouse, "select count(*) from raw.submissions where ma_xa = ?", [DUC_LUONG]) == [(2,)]


def test_validate_lists_every_bad_cell_of_a_claims_row(tmp_path):
    from pipelines.ingest.readers import parse_path

    bad = tmp_path / "chi_so.csv"
    bad.write_text("cap,ma_don_vi,tu_thang,den_thang,chi_so,gia_tri\ntinh,19,2020-13,2020-06,so_xa,12a\n")
    problems = {(p.row, p.column, p.rule) for p in parse_path(bad).problems}
    assert problems == {(2, "tu_thang", "invalid_value"), (2, "gia_tri", "invalid_value")}


def test_validate_accepts_a_correct_name_the_package_key_mangles_and_flags_a_wrong_one(tmp_path):
    """vietnamadminunits keys 'Xã Văn Lang' as 'vănlang'; the reference's name_key is our own fold."""
    from pipelines.ingest.validate import validate_file
    from pipelines.reference.admin_units import admin_units
    from pipelines.samples import Submission, bundle_bytes
    from pipelines.settings import HomePaths

    units = admin_units()
    unit = units[(units.era == "reform2025") & (units.ten_xa == "Xã Văn Lang")].iloc[0]

    def problems(name):
        bundle = tmp_path / f"{name}.zip"
        bundle.write_bytes(bundle_bytes([Submission(
            ma_xa=unit.ma_xa, ten_xa=name, ma_tinh=unit.ma_tinh, ky_bao_cao="2025-09", bo_tieu_chi="2021-2025",
            ngay_lap="2025-09-20", criteria_met=set(range(1, 20)))]))
        return [p.rule for p in validate_file(bundle, HomePaths(tmp_path / "home"))]

    assert problems("xã văn lang") == []
    assert problems("Xã Văn Lăng Mới") == ["name_mismatch"]
