"""Every audit check fires on a planted defect and stays quiet on its clean twin.

One home, one real pipeline run (ingest, dbt build, audit, gate): three years of monthly reports
from 15 communes in two provinces, with each defect planted in its own commune, district,
province or claim, beside a twin that differs only in not having it. Assertions read the
`quality_issues` table the gate decides on, so severity from the policy is tested too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import unicodedata

import pytest

from pipelines.cli import run_pipeline
from pipelines.reference.admin_units import admin_units
from pipelines.samples import Submission, bundle_bytes, claims_bytes, write_roster
from pipelines.settings import HomePaths
from tests.conftest import query

MONTHS = [f"{year}-{month:02d}" for year in (2019, 2020, 2021) for month in range(1, 13)]
NORMAL_CRITERIA = set(range(1, 16))  # 15 of 19, including 10 (income) and 15 (health)


def _communes(district: str, n: int) -> list[dict]:
    units = admin_units()
    units = units[(units.era == "legacy") & (units.loai_xa == "Xã") & (units.ma_huyen == district)]
    return units.sort_values("ma_xa").head(n).to_dict("records")


class Home:
    """Who is who in the planted home."""

    def __init__(self):
        self.d1 = _communes("167", 5)      # Định Hóa (Thái Nguyên): clean twins
        self.d2 = _communes("168", 5)      # Phú Lương: more cement in 2021, late and missing reports
        self.p42 = _communes("439", 2) + _communes("440", 2)  # Hà Tĩnh, two districts
        self.misplaced = _communes("169", 1)[0]   # a Thái Nguyên commune the roster puts in a Bắc Kạn district
        self.drop, self.near_drop = self.d1[0]["ma_xa"], self.d1[1]["ma_xa"]
        self.below, self.below_not_met = self.d1[2]["ma_xa"], self.d1[3]["ma_xa"]
        self.expired, self.valid_ocop = self.d1[4]["ma_xa"], self.d2[0]["ma_xa"]
        self.skips_july = {self.d2[3]["ma_xa"], self.d2[4]["ma_xa"]}
        self.outlier, self.outlier_twin = self.p42[0]["ma_xa"], self.p42[1]["ma_xa"]
        self.wrong_name, self.name_typed_plainly = self.p42[2]["ma_xa"], self.p42[3]["ma_xa"]

    @property
    def everyone(self) -> list[dict]:
        return self.d1 + self.d2 + self.p42 + [self.misplaced]


def _submission(home: Home, unit: dict, month: str) -> Submission:
    year, number = int(month[:4]), int(month[5:])
    met = set(NORMAL_CRITERIA)
    code = unit["ma_xa"]
    if month >= "2021-06" and code == home.drop:
        met -= {13, 14, 15}              # 15 -> 12 in one month
    if month >= "2021-06" and code == home.near_drop:
        met -= {14, 15}                  # 15 -> 13: not a drop of 3
    if code == home.below_not_met:
        met = (met - {10}) | {16}        # income criterion declared not met, still 15 in all
    cement = 30 if year == 2021 and unit in home.d2 else 20
    disbursed = 100 + 10 * (number % 3)
    if code == home.outlier and month == "2021-03":
        disbursed = 5000
    sub = Submission(
        ma_xa=code, ten_xa=unit["ten_xa"], ma_tinh=unit["ma_tinh"], ky_bao_cao=month, bo_tieu_chi="2016-2020",
        ngay_lap=f"{month}-25", criteria_met=met,
        totals={"so_tieu_chi_dat": len(met), "danh_hieu": "Chưa đạt", "so_mo_hinh_sxkd_moi": number % 2,
                "so_htx_moi": 0, "so_tht_moi": 0, "so_dn_moi": 0, "von_ke_hoach_trieu_dong": 200,
                "von_giai_ngan_trieu_dong": disbursed, "xi_mang_tan": cement},
    )
    if month == "2021-12" and code == home.wrong_name:
        sub.ten_xa = "Xã Không Đúng Tên"
    if month == "2021-12" and code == home.name_typed_plainly:  # "x. thach ..." in NFD, no diacritics
        plain = unicodedata.normalize("NFD", unit["ten_xa"].replace("Đ", "D").replace("đ", "d"))
        sub.ten_xa = "x. " + "".join(ch for ch in plain if not unicodedata.combining(ch)).split(" ", 1)[1].lower()
    if month == "2021-12" and code in (home.below, home.below_not_met):
        sub.sub_indicators = [{"ma_chi_tieu": "10.1", "gia_tri": "30,5", "don_vi": "triệu đồng/người/năm"},
                              {"ma_chi_tieu": "15.1", "gia_tri": 80 if code == home.below else 92, "don_vi": "%"}]
    if month == "2021-12" and code in (home.expired, home.valid_ocop):
        valid = _product(code, 1, stars=3, score=60, decided="2020-01-10")
        sub.ocop = [valid, _product(code, 2, stars=4, score=80, decided="2018-06-01")] if code == home.expired \
            else [_product(code, 1, stars=3, score=60, decided="2019-06-01")]
        sub.totals.update(so_san_pham_ocop=1, so_san_pham_3_sao=1, so_san_pham_4_sao=0, so_san_pham_5_sao=0)
    return sub


def _product(ma_xa: str, number: int, stars: int, score: int, decided: str) -> dict:
    return {"ma_san_pham": f"OCOP-{ma_xa}-{number}", "ten_san_pham": f"Chè {ma_xa}-{number}",
            "nhom_san_pham": "Thực phẩm", "chu_the": f"HTX {ma_xa}", "loai_chu_the": "HTX", "diem": score,
            "so_sao": stars, "so_quyet_dinh": f"{number}/QĐ-UBND", "ngay_quyet_dinh": decided,
            "cap_danh_gia": "tỉnh" if stars >= 4 else "huyện"}


def _deliver(paths: HomePaths, name: str, data: bytes, arrived: str) -> None:
    """A file in landing/ received at `arrived` (Vietnam time; the receipt journal), modified then too."""
    from pipelines.ingest.receipts import record_receipt

    target = paths.landing / name
    target.write_bytes(data)
    stamp = dt.datetime.fromisoformat(arrived).timestamp()
    os.utime(target, (stamp, stamp))
    record_receipt(paths, target, dt.datetime.fromisoformat(arrived))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[HomePaths, Home, int]:
    paths = HomePaths(tmp_path_factory.mktemp("planted") / "home").ensure()
    home = Home()
    roster = [dict(ma_xa=u["ma_xa"], ten_xa=u["ten_xa"], ma_huyen=u["ma_huyen"], ma_tinh=u["ma_tinh"])
              for u in home.everyone]
    roster[-1]["ma_huyen"] = "060"  # Pác Nặm is in Bắc Kạn (06), the commune in Thái Nguyên (19)
    write_roster(paths.roster_file, roster)

    def batch(units, months):
        return [_submission(home, u, m) for m in months for u in units
                if not (m == "2021-07" and u["ma_xa"] in home.skips_july)]

    # History arrives on time (earliest file: the start of timeliness judgement); November splits
    # into a district that reported on time and one that reported five weeks late.
    # (received once its last month is over: a period cannot end after its file's receipt)
    _deliver(paths, "lich_su.zip", bundle_bytes(batch(home.everyone, MONTHS[:-2])), "2021-11-05T08:00")
    others = [u for u in home.everyone if u not in home.d2]
    _deliver(paths, "thang_11.zip", bundle_bytes(batch(others, ["2021-11"])), "2021-12-05T08:00")
    _deliver(paths, "thang_11_phu_luong.zip", bundle_bytes(batch(home.d2, ["2021-11"])), "2022-01-15T08:00")
    _deliver(paths, "thang_12.zip", bundle_bytes(batch(home.everyone, ["2021-12"])), "2022-01-06T08:00")

    # Hà Tĩnh's claims for 2021: new models agree across levels except the province's total;
    # the number of communes agrees everywhere.
    models = {d: sum(n % 2 for n in range(1, 13)) * 2 for d in ("439", "440")}  # 6 a year, 2 communes
    claims = [dict(cap="huyen", ma_don_vi=d, tu_thang="2021-01", den_thang="2021-12", chi_so="so_mo_hinh_sxkd_moi",
                   gia_tri=n) for d, n in models.items()]
    claims += [dict(cap="tinh", ma_don_vi="42", tu_thang="2021-01", den_thang="2021-12",
                    chi_so="so_mo_hinh_sxkd_moi", gia_tri=sum(models.values()) + 5)]
    claims += [dict(cap=cap, ma_don_vi=code, tu_thang="2021-01", den_thang="2021-12", chi_so="so_xa", gia_tri=n)
               for cap, code, n in [("huyen", "439", 2), ("huyen", "440", 2), ("tinh", "42", 4)]]
    _deliver(paths, "chi_so_ha_tinh.csv", claims_bytes(claims), "2022-01-20T08:00")
    return paths, home, run_pipeline(paths)


def _issues(paths: HomePaths, code: str) -> list[tuple]:
    return query(paths.warehouse, """select ma_don_vi, ky, muc_do, gia_tri_bao_cao, gia_tri_tinh_toan, mo_ta
                                     from quality_issues where ma_kiem_tra = ? and trang_thai = 'open'
                                     order by all""", [code])


def _units(paths: HomePaths, code: str) -> set[str]:
    return {row[0] for row in _issues(paths, code)}


def test_errors_withhold_publication(planted):
    paths, _, exit_code = planted
    assert exit_code == 2
    assert not paths.published_db.exists()


def test_sub_indicator_below_threshold_while_criterion_declared_met(planted):
    paths, home, _ = planted
    rows = _issues(paths, "SUB_INDICATOR_BELOW_THRESHOLD")
    # income 30.5 < 36 and health insurance 80 < 85 where both criteria are declared met; the twin
    # has the same income but declares criterion 10 not met, and 92% insured
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        (home.below, "2021-12", "error", 30.5, 36.0), (home.below, "2021-12", "error", 80.0, 85.0)]
    assert "tiêu chí 10" in rows[0][5] and "10.1" in rows[0][5]


def test_expired_ocop_certificate_still_listed(planted):
    paths, home, _ = planted
    rows = _issues(paths, "OCOP_CERTIFICATE_EXPIRED")
    assert [(r[0], r[1], r[2]) for r in rows] == [(home.expired, "2021-12", "warning")]
    assert "01/06/2021" in rows[0][5]  # 36 months after the decision of 1 June 2018
    # the commune did not count it, and neither does the warehouse: no mismatch on its totals
    assert _units(paths, "OCOP_DECLARED_MISMATCH") == set()


def test_incomplete_reporting_by_district_and_province(planted):
    paths, home, _ = planted
    rows = {(r[0], r[1]): r for r in _issues(paths, "REPORTING_INCOMPLETE")}
    assert set(rows) == {("168", "2021-07"), ("19", "2021-07")}  # not Định Hóa, not Hà Tĩnh
    assert rows[("168", "2021-07")][3:5] == (3.0, 5.0)
    assert rows[("19", "2021-07")][3:5] == (9.0, 11.0)
    assert rows[("168", "2021-07")][2] == "warning"
    # communes are listed for each province's latest period only (for the report), and raise no issue
    latest = query(paths.warehouse, """select ky, so_xa_phai_bao_cao from audit.audit_reporting_completeness
                                       where cap = 'tinh' and ma_don_vi = '19' order by thang_ky desc limit 1""")
    communes = query(paths.warehouse, """select distinct ky, count(*) over () from audit.audit_reporting_completeness
                                         where cap = 'xa' and ma_tinh = '19'""")
    assert communes == latest
    assert not any(r[1] == "xa" for r in query(paths.warehouse, "select ma_kiem_tra, cap from quality_issues"
                                                                 " where ma_kiem_tra like 'REPORTING_%'"))


def test_late_reporting_against_the_deadline(planted):
    paths, home, _ = planted
    rows = {(r[0], r[1]): r for r in _issues(paths, "REPORTING_LATE")}
    # Phú Lương's November reports arrived on 15 January, after the deadline of 10 December
    assert set(rows) == {("168", "2021-11"), ("19", "2021-11")}
    assert rows[("168", "2021-11")][3:5] == (0.0, 5.0)
    assert "10/12/2021" in rows[("168", "2021-11")][5]
    completeness = query(paths.warehouse, """select ty_le_day_du, ty_le_dung_han from audit.audit_reporting_completeness
                                             where cap = 'huyen' and ma_don_vi = '167' and ky = '2021-11'""")
    assert completeness == [(100.0, 100.0)]


def test_criteria_dropping_by_three_in_a_month(planted):
    paths, home, _ = planted
    rows = _issues(paths, "CRITERIA_DROP")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [(home.drop, "2021-06", "warning", 12.0, 15.0)]


def test_flow_outlier_against_the_communes_own_history(planted):
    paths, home, _ = planted
    rows = _issues(paths, "FLOW_OUTLIER")
    assert [(r[0], r[1], r[3]) for r in rows] == [(home.outlier, "2021-03", 5000.0)]
    assert "von_giai_ngan_trieu_dong" in rows[0][5]


def test_year_on_year_change_beyond_a_third(planted):
    paths, home, _ = planted
    cement = [r for r in _issues(paths, "YEAR_ON_YEAR_CHANGE") if "xi_mang_tan" in r[5]]
    # Phú Lương: 5 communes x 30 t x 12 months less the two July reports missing, against 1,200 t;
    # Định Hóa stayed at 1,200 t, and the province as a whole moved +20% only
    assert [(r[0], r[1], r[3], r[4]) for r in cement] == [("168", "2021-01..2021-12", 1740.0, 1200.0)]


def test_levels_of_the_marts_add_up(planted):
    paths, home, _ = planted
    rows = _issues(paths, "CROSS_LEVEL_MISMATCH")
    # the commune counted in a Bắc Kạn district: Thái Nguyên's districts miss it, Bắc Kạn's
    # districts hold a commune its province does not; Hà Tĩnh's levels agree
    # (one issue per province and pair of levels, since the first month, not one per month and metric)
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("06", "2019-01", "error", 0.0, 1.0), ("19", "2019-01", "error", 11.0, 10.0)]
    assert "so_xa tháng 2021-12: 11.0 so với tổng 10.0" in rows[1][5] and "36 tháng" in rows[1][5]


def test_claims_at_two_levels_agree(planted):
    paths, home, _ = planted
    rows = _issues(paths, "CLAIM_LEVEL_MISMATCH")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [("42", "2021-01..2021-12", "error", 29.0, 24.0)]
    assert "so_mo_hinh_sxkd_moi" in rows[0][5]


def test_commune_name_against_its_code(planted):
    paths, home, _ = planted
    rows = _issues(paths, "SUBMISSION_NAME_MISMATCH")
    # a wrong name is flagged; the same commune's name without diacritics, prefixed "x.", is not
    assert [(r[0], r[1], r[2]) for r in rows] == [(home.wrong_name, "2021-12", "warning")]
    assert "Không Đúng Tên" in rows[0][5]


def test_the_report_puts_what_blocked_first_then_warnings_then_completeness(planted):
    from html.parser import HTMLParser

    from pipelines.cli import main

    paths, home, _ = planted
    assert main(["--home", str(paths.home), "report", "--run-id", "rapport"]) == 0
    report = json.loads((paths.reports / "latest.json").read_text("utf-8"))
    page = (paths.reports / "latest.html").read_text("utf-8")
    assert report["run_id"] == "rapport" and report["publication"] == "withheld"
    assert report["summary"]["blocking_checks"] == [
        "CLAIM_LEVEL_MISMATCH", "CLAIM_MISMATCH", "CROSS_LEVEL_MISMATCH", "SUB_INDICATOR_BELOW_THRESHOLD"]
    assert {e["ma_kiem_tra"] for e in report["warnings_by_check"]} >= {"REPORTING_INCOMPLETE", "FLOW_OUTLIER"}
    # completeness by province and district, at each one's latest period, with the WHO targets
    units = {(r["cap"], r["ma_don_vi"]): r for r in report["completeness"]}
    assert {("tinh", "19"), ("huyen", "167"), ("huyen", "168"), ("tinh", "42")} <= set(units)
    assert units[("huyen", "168")]["ky"] == "2021-12" and units[("huyen", "168")]["ty_le_day_du"] == 100.0
    assert (report["completeness_target"], report["timeliness_target"]) == (90.0, 75.0)
    assert any(r["ky"] == "2021-07" and r["ty_le_day_du"] < 90 for r in report["completeness_history"])
    # the page: same content, in that order, offline (no script, no external resource), well formed
    # one ongoing issue per unit and check, spanning its periods, instead of one per month
    keys = [(g["ma_kiem_tra"], g["muc_do"], g["trang_thai"], g["cap"], g["ma_don_vi"]) for g in report["ongoing"]]
    assert len(keys) == len(set(keys)) == report["summary"]["ongoing_issues"]
    assert sum(g["so_van_de"] for g in report["ongoing"]) == report["summary"]["open_errors"] + \
        report["summary"]["open_warnings"] + report["summary"]["waived"]
    assert report["runs"] and report["runs"][-1]["loi"] == report["summary"]["open_errors"]  # chart over runs
    blocking, warnings, claims, completeness = (
        page.index(h) for h in ("1. Lỗi chặn", "2. Cảnh báo", "3. Chỉ số báo cáo", "5. Báo cáo của xã"))
    assert claims > warnings
    assert page.index("SUB_INDICATOR_BELOW_THRESHOLD") < blocking  # named in the banner at the top
    assert "SUB_INDICATOR_BELOW_THRESHOLD" in page[blocking:warnings] and "FLOW_OUTLIER" not in page[blocking:warnings]
    assert "FLOW_OUTLIER" in page[warnings:claims]
    assert page.count("<svg") >= 3 and "Huyện Phú Lương" in page[completeness:]
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.open = []

        def handle_starttag(self, tag, attrs):
            if tag in ("svg", "table", "div", "figure"):
                self.open.append(tag)

        def handle_endtag(self, tag):
            if tag in ("svg", "table", "div", "figure"):
                assert self.open.pop() == tag

    parser = Tags()
    parser.feed(page)
    assert parser.open == []


def test_the_completeness_chart_colours_each_figure_against_the_target_and_draws_no_missing_one():
    from pipelines.publish.quality_charts import ERROR, OK, completeness_colour, completeness_heatmap

    assert (completeness_colour(0, 90), completeness_colour(90, 90), completeness_colour(100, 90)) == (
        ERROR, "#fff3e0", OK)
    below, above = completeness_colour(45, 90), completeness_colour(95, 90)
    assert int(below[1:3], 16) > int(below[3:5], 16) and int(above[3:5], 16) > int(above[1:3], 16)  # red, green
    chart = completeness_heatmap([
        {"ma_don_vi": "19", "ten_don_vi": "Tỉnh Thái Nguyên", "ky": "2025-05", "ty_le_day_du": 45.0},
        {"ma_don_vi": "19", "ten_don_vi": "Tỉnh Thái Nguyên", "ky": "2025-06", "ty_le_day_du": None},
        {"ma_don_vi": "04", "ten_don_vi": None, "ky": "2025-06", "ty_le_day_du": 95.0}], 90)
    assert [row["name"] for row in chart["rows"]] == ["04 (04)", "Tỉnh Thái Nguyên (19)"]
    assert [column["name"] for column in chart["columns"]] == ["2025-05", "2025-06"]
    assert sorted((cell["text"], cell["colour"]) for cell in chart["cells"]) == [
        ("04, 2025-06: 95%", above), ("Tỉnh Thái Nguyên, 2025-05: 45%", below)]
