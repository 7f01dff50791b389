"""`ntm template`: a pre-filled blank report that `ntm validate` accepts once an officer fills it in."""

import datetime as dt
import subprocess

import openpyxl
import pytest

from pipelines.cli import main
from pipelines.ingest.readers import parse_path
from pipelines.ingest.template import criteria_set_for
from tests.conftest import NTM

DUC_LUONG = "05776"  # Xã Đức Lương, Đại Từ, Thái Nguyên: in both the legacy and the 2025 unit lists


def write(home, ma_xa, ky, target) -> int:
    return main(["--home", str(home.home), "template", "--ma-xa", ma_xa, "--ky", ky, "-o", str(target)])


def key_values(sheet) -> dict:
    return {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0]}


def test_template_is_prefilled_with_commune_province_and_the_criteria_of_the_set(home, tmp_path):
    target = tmp_path / "mau.xlsx"
    assert write(home, "5776", "2020-H1", target) == 0  # the code as typed without its leading zero
    book = openpyxl.load_workbook(target)
    assert book.sheetnames[:5] == ["ThongTin", "TieuChi", "ChiTieu", "OCOP", "TongHop"]
    info = key_values(book["ThongTin"])
    assert info["Mã xã"] == DUC_LUONG and info["Mã tỉnh"] == "19"  # text: leading zeros survive Excel
    assert info["Tên xã"] == "Xã Đức Lương"
    assert info["Kỳ báo cáo"] == "2020-H1" and info["Bộ tiêu chí"] == "2016-2020"
    criteria = list(book["TieuChi"].iter_rows(min_row=1, values_only=True))
    assert criteria[0][:3] == ("Tiêu chí", "Tên tiêu chí", "Trạng thái")
    assert [row[0] for row in criteria[1:]] == list(range(1, 20))
    assert criteria[3][1] == "Thủy lợi" and criteria[19][1] == "Quốc phòng và An ninh"
    lists = {str(dv.sqref): dv.formula1 for dv in book["TieuChi"].data_validations.dataValidation}
    assert lists == {"C2:C20": '"Đạt,Chưa đạt"'}
    titles = [dv.formula1 for dv in book["TongHop"].data_validations.dataValidation]
    assert titles == ['"Chưa đạt,NTM,NTM nâng cao,NTM kiểu mẫu"']
    assert [c.value for c in book["OCOP"][1]][:3] == ["Mã sản phẩm", "Tên sản phẩm", "Nhóm sản phẩm"]


@pytest.mark.parametrize("ky, expected", [
    ("2020-H1", "2016-2020"), ("2021-12", "2016-2020"), ("2021", "2016-2020"), ("2022-Q1", "2021-2025"),
    ("2025-12", "2021-2025"), ("2026-01", "2026-2030"),
])
def test_criteria_set_in_force_for_the_period(ky, expected):
    assert criteria_set_for(ky) == expected


def test_2026_template_has_the_ten_new_criteria_and_the_modern_title(home, tmp_path):
    target = tmp_path / "mau_2026.xlsx"
    assert write(home, DUC_LUONG, "2026-Q1", target) == 0
    book = openpyxl.load_workbook(target)
    assert key_values(book["ThongTin"])["Bộ tiêu chí"] == "2026-2030"
    assert book["TieuChi"].max_row == 11
    assert "NTM hiện đại" in book["TongHop"].data_validations.dataValidation[0].formula1


def test_filled_template_passes_ntm_validate(home, tmp_path, capsys):
    target = tmp_path / "mau.xlsx"
    assert write(home, DUC_LUONG, "2020-H1", target) == 0
    book = openpyxl.load_workbook(target)
    info = book["ThongTin"]
    for row in info.iter_rows(min_row=2):
        if row[0].value == "Ngày lập":
            row[1].value = dt.datetime(2020, 6, 25)
        if row[0].value == "Người lập":
            row[1].value = "Nguyễn Văn A"
    for row in book["TieuChi"].iter_rows(min_row=2):
        row[2].value = "Đạt" if row[0].value <= 17 else "Chưa đạt"
    book["OCOP"].append(["", "Chè Đức Lương", "Thực phẩm", "HTX chè", "HTX", 72, 4, "12/QĐ-UBND",
                         dt.datetime(2019, 11, 20), "tỉnh"])
    for row in book["TongHop"].iter_rows(min_row=2):
        row[1].value = {"Số tiêu chí đạt": 17, "Danh hiệu": "Chưa đạt", "Số sản phẩm OCOP": 1,
                        "Số sản phẩm 4 sao": 1, "Vốn giải ngân (triệu đồng)": "1.250,5"}.get(row[0].value)
    book.save(target)

    assert main(["--home", str(home.home), "validate", str(target)]) == 0
    assert "0 lỗi" in capsys.readouterr().out
    parsed = parse_path(target)
    assert sum(r["trang_thai"] == "true" for r in parsed.rows["tieu_chi"]) == 17
    assert parsed.rows["submissions"][0]["ngay_lap"] == "2020-06-25"
    totals = {r["truong"]: r["gia_tri"] for r in parsed.rows["tong_hop"]}
    assert totals["von_giai_ngan_trieu_dong"] == "1250.5"


def test_unfilled_template_names_the_missing_date_by_sheet_row_and_column(home, tmp_path):
    target = tmp_path / "mau.xlsx"
    completed = subprocess.run([NTM, "--home", str(home.home), "template", "--ma-xa", DUC_LUONG, "--ky", "2020-06",
                                "-o", str(target)], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    completed = subprocess.run([NTM, "--home", str(home.home), "validate", str(target)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1
    assert "[missing_key] mau.xlsx: sheet ThongTin, row 7, column B (Giá trị)" in completed.stdout


def test_template_for_an_unknown_code_fails(home, tmp_path, capsys):
    assert write(home, "99999", "2020-06", tmp_path / "x.xlsx") == 1
    assert "99999" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()
