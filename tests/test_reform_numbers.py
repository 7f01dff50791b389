"""Numbers across the 1 July 2025 reform (issue 9, contract 1.1 §2, §3), each a planted defect beside
its clean twin, through the real pipeline: real CSV bundles in landing/, real dbt, real DuckDB.

One home, one run: the 2025 province 19 (Thái Nguyên, which absorbed Bắc Kạn, 06). Legacy communes
of both predecessors report January to June 2025, their 2025 successors July to December; the
roster says who is expected when (legacy rows up to 2025-06, 2025 rows without a district from
2025-07). Then one dbt invocation on a copy of the warehouse for what only SQL can plant (a NULL
ma_tinh in ref.roster, a raw cell staging cannot cast).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import rules
from pipelines.cli import run_pipeline
from pipelines.reference.admin_units import admin_units, crosswalk
from pipelines.samples import Submission, bundle_bytes, claims_bytes, write_roster
from pipelines.settings import DBT_PROJECT_DIR, HomePaths
from tests.conftest import query

DBT = str(Path(sys.executable).with_name("dbt"))
LEGACY_MONTHS = [f"2024-{m:02d}" for m in range(7, 13)] + [f"2025-{m:02d}" for m in range(1, 7)]
H1 = [f"2025-{m:02d}" for m in range(1, 7)]
H2 = [f"2025-{m:02d}" for m in range(7, 13)]
MET = set(range(1, 16))


class Units:
    """Real units of the merged province, picked from the reference and the crosswalk."""

    def __init__(self):
        units = admin_units()
        links = crosswalk()
        links = links[links.is_default]
        legacy = units[(units.era == "legacy") & (units.loai_xa == "Xã")].set_index("ma_xa")
        new = units[(units.era == "reform2025") & (units.ma_tinh == "19")].set_index("ma_xa")
        successor = {row.ma_xa_cu: row.ma_xa_moi for row in links.itertuples() if row.ma_tinh_moi == "19"}

        def legacy_units(province: str, keeps_code: bool) -> list[str]:
            # a 2025 commune keeps the code of one predecessor: "keeps_code" picks such a predecessor
            return sorted(code for code in legacy.index[legacy.ma_tinh == province]
                          if code in successor and new.loai_xa.get(successor[code]) == "Xã"
                          and (successor[code] == code) == keeps_code)

        others_19, others_06 = legacy_units("19", False), legacy_units("06", False)
        # L1 (legacy 19) and L2, L3 (legacy 06) do not keep their code: only the crosswalk places them
        self.l1 = others_19[0]
        self.l2 = next(c for c in others_06 if successor[c] != successor[self.l1])
        self.l3 = next(c for c in others_06 if successor[c] not in (successor[self.l1], successor[self.l2]))
        self.n1, self.n2, self.n3 = successor[self.l1], successor[self.l2], successor[self.l3]
        taken = {self.n1, self.n2, self.n3}
        # X keeps its code: the 2025 commune R of that code is another (larger) unit
        self.x = next(c for c in legacy_units("19", True) if c not in taken)
        self.r = self.x
        taken.add(self.r)
        self.y = next(c for c in others_19[1:] if c not in (self.l1,))
        self.n4 = next(c for c in new.index[new.loai_xa == "Xã"]
                       if c not in taken and c not in {successor.get(k) for k in (self.x, self.y)})
        self.legacy = legacy
        self.new = new

    def unit(self, code: str, era: str) -> dict:
        row = (self.legacy if era == "legacy" else self.new).loc[code]
        return {"ma_xa": code, "ten_xa": row.ten_xa, "ma_tinh": row.ma_tinh,
                "ma_huyen": row.ma_huyen if era == "legacy" else None}


def _sub(u: Units, code: str, era: str, ky: str, **totals) -> Submission:
    unit = u.unit(code, era)
    last = "2025-06" if ky == "2025-H1" else ky
    base = {"so_tieu_chi_dat": len(MET), "danh_hieu": "Chưa đạt", "so_mo_hinh_sxkd_moi": 0, "so_htx_moi": 0,
            "so_tht_moi": 0, "so_dn_moi": 0, "von_ke_hoach_trieu_dong": 200, "von_giai_ngan_trieu_dong": 100}
    return Submission(ma_xa=code, ten_xa=unit["ten_xa"], ma_tinh=unit["ma_tinh"], ky_bao_cao=ky,
                      bo_tieu_chi="2021-2025", ngay_lap=f"{last}-25", criteria_met=set(MET),
                      totals={**base, **totals})


def _product(code: str, number: str, stars: int) -> dict:
    return {"ma_san_pham": number, "ten_san_pham": f"Sản phẩm {number}", "nhom_san_pham": "Thực phẩm",
            "chu_the": f"HTX {code}", "loai_chu_the": "HTX", "diem": {3: 60, 4: 80}[stars], "so_sao": stars,
            "so_quyet_dinh": f"{number}/QĐ-UBND", "ngay_quyet_dinh": "2025-03-01", "cap_danh_gia": "tỉnh"}


L1_MODELS = [1, 0, 2, 0, 1, 0]   # its half-year report says 4: agrees
L2_MODELS = [0, 1, 0, 0, 0, 1]   # its half-year report says 5: disagrees


def _deliver(paths: HomePaths, name: str, data: bytes, arrived: str) -> None:
    target = paths.landing / name
    target.write_bytes(data)
    stamp = dt.datetime.fromisoformat(arrived).timestamp()
    os.utime(target, (stamp, stamp))


@pytest.fixture(scope="module")
def reform(tmp_path_factory):
    u = Units()
    paths = HomePaths(tmp_path_factory.mktemp("reform") / "home").ensure()
    roster = [{**u.unit(c, "legacy"), "tu_thang": "2024-07", "den_thang": "2025-06"}
              for c in (u.x, u.y, u.l1, u.l2, u.l3)]
    roster += [{**u.unit(c, "reform2025"), "tu_thang": "2025-07"} for c in (u.n1, u.n2, u.n3, u.n4, u.r)]
    write_roster(paths.roster_file, roster)

    legacy = []
    for i, month in enumerate(LEGACY_MONTHS):
        # X: a steady series; Y: the same with one disbursement of 5000 (an outlier within its era)
        legacy.append(_sub(u, u.x, "legacy", month, so_mo_hinh_sxkd_moi=1,
                           von_giai_ngan_trieu_dong=100 + 10 * (i % 3)))
        legacy.append(_sub(u, u.y, "legacy", month,
                           von_giai_ngan_trieu_dong=5000 if month == "2025-03" else 100 + 10 * (i % 3)))
    for i, month in enumerate(H1):
        legacy.append(_sub(u, u.l1, "legacy", month, so_mo_hinh_sxkd_moi=L1_MODELS[i]))
        legacy.append(_sub(u, u.l2, "legacy", month, so_mo_hinh_sxkd_moi=L2_MODELS[i]))
    legacy.append(_sub(u, u.l3, "legacy", "2025-05", so_mo_hinh_sxkd_moi=3))
    _deliver(paths, "bao_cao_thang_truoc_sap_nhap.zip", bundle_bytes(legacy), "2025-07-05T08:00")
    six_months = dict(von_ke_hoach_trieu_dong=6 * 200, von_giai_ngan_trieu_dong=6 * 100)
    half_year = [_sub(u, u.l1, "legacy", "2025-H1", so_mo_hinh_sxkd_moi=sum(L1_MODELS), **six_months),
                 _sub(u, u.l2, "legacy", "2025-H1", so_mo_hinh_sxkd_moi=5, **six_months)]
    _deliver(paths, "bao_cao_6_thang_2025.zip", bundle_bytes(half_year), "2025-07-06T08:00")

    current = []
    for month in H2:
        n1 = _sub(u, u.n1, "reform2025", month, so_mo_hinh_sxkd_moi=1)
        n2 = _sub(u, u.n2, "reform2025", month)
        if month == "2025-12":
            # two communes both number a product SP01: two products; N1 lists SP02 twice: one product
            n1.ocop = [_product(u.n1, "SP01", 3), _product(u.n1, "SP02", 4), _product(u.n1, "SP02", 4)]
            n1.totals.update(so_san_pham_ocop=2, so_san_pham_3_sao=1, so_san_pham_4_sao=1, so_san_pham_5_sao=0)
            n2.ocop = [_product(u.n2, "SP01", 4)]
            n2.totals.update(so_san_pham_ocop=1, so_san_pham_3_sao=0, so_san_pham_4_sao=1, so_san_pham_5_sao=0)
            n2.criteria_met = set(range(1, 20))
            n2.totals.update(so_tieu_chi_dat=19, danh_hieu="NTM hiện đại", so_quyet_dinh_cong_nhan="9/QĐ-UBND",
                             ngay_cong_nhan="2025-12-01")
        current += [n1, n2]
    # R, the 2025 commune that kept X's code, reports once: 5000 is no outlier of X's series
    current.append(_sub(u, u.r, "reform2025", "2025-07", so_mo_hinh_sxkd_moi=2, von_giai_ngan_trieu_dong=5000))
    _deliver(paths, "bao_cao_thang_sau_sap_nhap.zip", bundle_bytes(current), "2026-01-05T08:00")

    year = dict(cap="tinh", ma_don_vi="19", tu_thang="2025-01", den_thang="2025-12")
    claims = [
        # X 6 + L1 4 + L2 2 + L3 3 (first half, legacy units) + N1 6 + R 2 (second half): 23
        {**year, "chi_so": "so_mo_hinh_sxkd_moi", "gia_tri": 23},
        # March to December: 19, stated 20 (one model off)
        {**year, "tu_thang": "2025-03", "chi_so": "so_mo_hinh_sxkd_moi", "gia_tri": 20},
        # units at 2025-08: N1, N2, R reported themselves, N3 through its predecessor L3 (May); N4 not
        {**year, "tu_thang": "2025-05", "den_thang": "2025-08", "chi_so": "so_xa_co_bao_cao", "gia_tri": 4},
        # N4 alone had no new model in 2025, itself or through a predecessor
        {**year, "chi_so": "so_xa_khong_co_mo_hinh_moi", "gia_tri": 1},
        {**year, "chi_so": "so_xa", "gia_tri": 5},
        {**year, "chi_so": "so_san_pham_ocop", "gia_tri": 3},
        # a district stating its year 2025: districts were abolished on 1 July 2025
        dict(cap="huyen", ma_don_vi=u.unit(u.l1, "legacy")["ma_huyen"], tu_thang="2025-01", den_thang="2025-12",
             chi_so="so_mo_hinh_sxkd_moi", gia_tri=4),
    ]
    _deliver(paths, "chi_so_2025.csv", claims_bytes(claims), "2026-01-10T08:00")
    return paths, u, run_pipeline(paths)


def _claim(paths: HomePaths, chi_so: str, tu: str, den: str = "2025-12", cap: str = "tinh") -> tuple:
    return query(paths.warehouse, """select gia_tri_bao_cao, gia_tri_tinh_toan, khop from claim_reconciliation
                                     where cap = ? and chi_so = ? and tu_thang = ? and den_thang = ?""",
                 [cap, chi_so, tu, den])[0]


def _issues(paths: HomePaths, code: str) -> list[tuple]:
    return query(paths.warehouse, """select ma_don_vi, ky, muc_do, gia_tri_bao_cao, gia_tri_tinh_toan, mo_ta
                                     from quality_issues where ma_kiem_tra = ? and trang_thai = 'open'
                                     order by all""", [code])


def test_year_claim_of_a_merged_province_includes_its_predecessors_first_half(reform):
    paths, _, exit_code = reform
    assert exit_code == 2  # withheld: the planted errors below
    assert _claim(paths, "so_mo_hinh_sxkd_moi", "2025-01") == (23.0, 23.0, True)
    assert _claim(paths, "so_xa", "2025-01") == (5.0, 5.0, True)
    # the 2025 roll-up places communes as the reconciliation does: the same year, month by month
    assert query(paths.warehouse, """select sum(so_mo_hinh_sxkd_moi) from mart_province_month_2025
                                     where ma_tinh_2025 = '19' and thang like '2025-%'""") == [(23,)]


def test_a_claim_one_model_off_is_an_error_carrying_both_numbers(reform):
    paths, _, _ = reform
    assert _claim(paths, "so_mo_hinh_sxkd_moi", "2025-03") == (20.0, 19.0, False)
    rows = [r for r in _issues(paths, "CLAIM_MISMATCH") if r[0] == "19"]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("2025-03..2025-12", "error", 20.0, 19.0)]


def test_communes_reporting_across_july_count_their_predecessors(reform):
    paths, _, _ = reform
    assert _claim(paths, "so_xa_co_bao_cao", "2025-05", "2025-08") == (4.0, 4.0, True)
    assert _claim(paths, "so_xa_khong_co_mo_hinh_moi", "2025-01") == (1.0, 1.0, True)


def test_district_claim_after_the_reform_has_no_unit(reform):
    paths, u, _ = reform
    district = u.unit(u.l1, "legacy")["ma_huyen"]
    rows = _issues(paths, "CLAIM_DISTRICT_ABOLISHED")
    assert [(r[0], r[1], r[2]) for r in rows] == [(district, "2025-01..2025-12", "error")]
    assert "1/7/2025" in rows[0][5]
    assert _issues(paths, "CLAIM_UNKNOWN_UNIT") == []


def test_monthly_and_half_year_reports_count_flows_once(reform):
    paths, u, _ = reform
    months = dict(query(paths.warehouse, """select thang, so_mo_hinh_sxkd_moi from mart_unit_month
                                            where cap = 'xa' and ma_don_vi = ? and thang like '2025-0%'""", [u.l1]))
    assert [months[m] for m in H1] == L1_MODELS  # June holds June's report, not June's + the half year's
    # the disagreeing half-year report is a warning naming both files; the agreeing one is not
    rows = _issues(paths, "FLOW_PERIOD_OVERLAP_MISMATCH")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [(u.l2, "2025-H1", "warning", 5.0, 2.0)]
    assert "bao_cao_6_thang_2025.zip" in rows[0][5] and "bao_cao_thang_truoc_sap_nhap.zip" in rows[0][5]


def test_two_communes_numbering_products_sp01_hold_two_products(reform):
    paths, u, _ = reform
    assert _claim(paths, "so_san_pham_ocop", "2025-01") == (3.0, 3.0, True)
    products = query(paths.warehouse, """select ma_xa, ma_san_pham from dim_ocop_product order by all""")
    assert products == sorted([(u.n1, "SP01"), (u.n1, "SP02"), (u.n2, "SP01")])
    # N1 listed SP02 twice and declared 2: no mismatch on its own totals either
    assert [r for r in _issues(paths, "OCOP_DECLARED_MISMATCH") if r[0] in (u.n1, u.n2)] == []
    [(ocop, hien_dai)] = query(paths.warehouse, """select so_san_pham_ocop, so_xa_hien_dai from mart_unit_month
                                                  where cap = 'tinh' and ma_don_vi = '19' and thang = '2025-12'""")
    assert (ocop, hien_dai) == (3, 1)


def test_a_reused_code_does_not_join_a_legacy_series_to_the_new_commune(reform):
    paths, u, _ = reform
    outliers = {(r[0], r[1]) for r in _issues(paths, "FLOW_OUTLIER")}
    assert (u.y, "2025-03") in outliers            # within its era, Y's 5000 stands out
    assert (u.r, "2025-07") not in outliers        # R's 5000 is not judged against legacy X's series
    assert {key for key in outliers if key[0] in (u.x, u.r)} == set()


def _dbt(paths: HomePaths, tmp_path: Path, *args: str, **extra_vars) -> subprocess.CompletedProcess:
    warehouse = tmp_path / "warehouse.duckdb"
    dbt_vars = json.dumps({"warehouse_path": str(warehouse), **extra_vars})
    return subprocess.run(
        [DBT, "--no-use-colors", *args, "--vars", dbt_vars, "--target-path", str(tmp_path / "target"),
         "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})


def test_sql_holds_on_a_null_roster_province_and_an_uncastable_cell(reform, tmp_path):
    """Planted straight into a copy of the warehouse, as only SQL sees them: a roster row with a NULL
    ma_tinh (the Python reader rejects it) must not empty the scope of a province the roster does
    not name; a raw cell that cannot be cast is a finding naming file, sheet, row and column. And
    the roster keeps only its 2025 rows: the 2025 province still covers its predecessors' first half."""
    paths, u, _ = reform
    shutil.copy2(paths.warehouse, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as conn:
        conn.execute("delete from ref.roster where den_thang is not null")  # the legacy rows
        conn.execute("insert into ref.roster (ma_xa, ten_xa) values ('99999', 'Xã không rõ tỉnh')")
        sha, name = conn.execute("select file_sha256, file_name from raw.files order by file_name limit 1").fetchone()
        conn.execute("""insert into raw.chi_tieu (submission_id, ma_xa, ky_bao_cao, ma_chi_tieu, gia_tri, don_vi,
                                                  file_sha256, file_name, source_sheet, source_row)
                        values ('s', '00001', '2025-07', '10.1', 'mười', null, ?, ?, 'chi_tieu.csv', 7)""", [sha, name])
    built = _dbt(paths, tmp_path, "build", "--select", "int_covered_provinces+", "stg_sub_indicators",
                 "audit_staging_casts", "--exclude-resource-type", "unit_test", provinces=["42"])
    assert built.returncode == 0, built.stdout[-3000:]
    database = tmp_path / "warehouse.duckdb"
    # Hà Tĩnh (42), configured but not in the roster: every Xã of the month's era, each month
    expected = query(database, """
        select count(*) from intermediate.int_months m
        join staging.stg_admin_units u on u.ma_tinh = '42' and u.loai_xa = 'Xã'
            and u.era = case when m.thang_ky < cast(? as date) then 'legacy' else 'reform2025' end""",
                     [rules.reform_date()])[0][0]
    assert expected > 0
    assert query(database, "select count(*) from intermediate.int_scope_month where ma_tinh = '42'") == [(expected,)]
    # the roster's provinces keep their roster scope
    assert query(database, """select count(distinct ma_xa) from intermediate.int_scope_month
                              where ma_tinh = '19' and thang_ky = date '2025-08-01'""") == [(5,)]
    # legacy months: Thái Nguyên (19) and Bắc Kạn (06) as predecessors of the 2025 province 19, whole
    assert query(database, """select ma_tinh from intermediate.int_covered_provinces
                              where era = 'legacy' order by all""") == [("06",), ("19",), ("42",)]
    legacy_06 = query(database, """select count(*) from staging.stg_admin_units
                                   where era = 'legacy' and ma_tinh = '06' and loai_xa = 'Xã'""")[0][0]
    assert query(database, """select count(*) from intermediate.int_scope_month
                              where ma_tinh = '06' and thang_ky = date '2025-03-01'""") == [(legacy_06,)]
    assert _claim(HomePaths(tmp_path), "so_mo_hinh_sxkd_moi", "2025-01") == (23.0, 23.0, True)
    assert _claim(HomePaths(tmp_path), "so_xa_co_bao_cao", "2025-05", "2025-08") == (4.0, 4.0, True)
    # ... and the row itself is an error, not a silently smaller scope
    assert query(database, """select ma_don_vi from audit.audit_findings
                              where ma_kiem_tra = 'ROSTER_ROW_INCOMPLETE'""") == [("99999",)]
    rows = query(database, "select ma_kiem_tra, ma_don_vi, ky, mo_ta from audit.audit_staging_casts")
    assert len(rows) == 1 and rows[0][:3] == ("STAGING_CAST_FAILED", "00001", "2025-07")
    assert all(part in rows[0][3] for part in (name, "chi_tieu.csv", "dòng 7", "cột gia_tri", "mười"))
