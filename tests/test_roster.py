"""The roster (contract §3): rows apply by month, no districts after the reform, and a bad cell is a
problem naming row and column that withholds publication, never a silently smaller scope."""

from __future__ import annotations

import csv

from pipelines import rules
from pipelines.reference.roster import check_roster
from pipelines.settings import SAMPLES_DIR
from tests.conftest import copy_sample, query

HEADER = ["ma_xa", "ten_xa", "ma_huyen", "ma_tinh", "tu_thang", "den_thang"]


def write(path, rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


def problems(path) -> list[tuple]:
    return [(p.row, p.column, p.rule, p.severity) for p in check_roster(path).problems]


def test_a_clean_roster_has_no_problems_and_keeps_every_row(tmp_path):
    reform = rules.reform_month()
    path = tmp_path / "roster.csv"
    write(path, [["05776", "Xã Tân Cương", "171", "19", "", ""],
                 ["０５７７９", "", "", "19", "2020-01", "2024-12"],  # fullwidth digits are read as ASCII
                 ["05779", "", "", "19", reform, ""]])  # the code reused after the reform, no district
    roster = check_roster(path)
    assert roster.problems == []
    assert list(roster.rows["ma_xa"]) == ["05776", "05779", "05779"]
    assert list(roster.rows["tu_thang"].fillna("")) == ["", "2020-01", reform]


def test_blank_or_malformed_required_cells_name_row_and_column_and_leave_the_row_out(tmp_path):
    path = tmp_path / "roster.csv"
    write(path, [["05776", "", "171", "19", "", ""],
                 ["05779", "", "171", "", "", ""],            # blank ma_tinh: would empty other provinces' scope
                 ["", "Xã Không Mã", "171", "19", "", ""],    # blank ma_xa
                 ["5773x", "", "171", "19", "", ""],          # malformed ma_xa
                 ["05785", "", "17", "19", "2020-13", ""],    # malformed month; ma_huyen 17 is zero-filled
                 ["05788", "", "171", "19", "2021-06", "2021-01"],  # reversed range
                 ["05776", "", "171", "19", "2020-01", ""]])  # the same commune again, overlapping
    assert problems(path) == [
        (3, "ma_tinh", "missing_value", "error"), (4, "ma_xa", "missing_value", "error"),
        (5, "ma_xa", "invalid_value", "error"), (6, "tu_thang", "invalid_value", "error"),
        (7, "tu_thang", "invalid_range", "error"), (8, "ma_xa", "overlapping_rows", "error"),
    ]
    assert list(check_roster(path).rows["ma_xa"]) == ["05776"]


def test_a_row_pasted_twice_is_a_warning_and_counted_once(tmp_path):
    path = tmp_path / "roster.csv"
    write(path, [["05776", "Xã Tân Cương", "171", "19", "", ""], ["05776", "Xã Tân Cương", "171", "19", "", ""]])
    assert problems(path) == [(3, "ma_xa", "duplicate_row", "warning")]
    assert list(check_roster(path).rows["ma_xa"]) == ["05776"]


def test_a_district_after_the_reform_is_a_warning_and_ignored(tmp_path):
    path = tmp_path / "roster.csv"
    write(path, [["05776", "", "171", "19", rules.reform_month(), ""]])
    roster = check_roster(path)
    assert problems(path) == [(2, "ma_huyen", "district_after_reform", "warning")]
    assert roster.rows["ma_huyen"].isna().all() and len(roster.rows) == 1


def test_missing_column_and_undecodable_file(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("ma_xa,ten_xa\n05776,x\n", encoding="utf-8")
    assert problems(path) == [(1, "ma_tinh", "missing_column", "error")]
    path.write_bytes("ma_xa,ma_tinh,ten_xa\n05776,19,Thái Nguyên\n".encode("cp1258"))
    assert problems(path) == [(None, None, "encoding", "error")]


def test_a_bad_roster_cell_withholds_publication_naming_row_and_column_then_resolves(home, run):
    """Before: the roster asset raised, the run failed (exit 1) with a traceback and nothing was audited."""
    copy_sample(home)
    with (SAMPLES_DIR / "reference" / "roster.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    broken = [row[:] for row in rows]
    broken[3][rows[0].index("ma_tinh")] = ""
    with home.roster_file.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(broken)
    assert run(home) == 2
    [(severity, status, message)] = query(home.warehouse, """
        select muc_do, trang_thai, mo_ta from quality_issues where ma_kiem_tra = 'ROSTER_MISSING_VALUE'""")
    assert (severity, status) == ("error", "open")
    assert "roster.csv, dòng 4, cột ma_tinh" in message
    assert not home.published_db.exists()

    (home.roster_file).write_text((SAMPLES_DIR / "reference" / "roster.csv").read_text("utf-8"), encoding="utf-8")
    assert run(home) == 0  # the clean twin: the same home with the roster mended publishes
    assert query(home.warehouse, "select trang_thai from quality_issues where ma_kiem_tra like 'ROSTER_%'") == [
        ("resolved",)]
