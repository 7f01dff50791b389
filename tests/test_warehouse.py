"""The warehouse on monthly arrivals: a province report reproduced from monthly files, a late
submission rebuilt for its months only, the roll-up onto the 2025 provinces, dbt unit tests.

Two whole pipeline runs for the module (a full one, then an incremental one for the late month).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipelines.cli import run_pipeline
from pipelines.samples import OCOP_KEYS, Submission, build_demo_sample, workbook_bytes
from pipelines.settings import DBT_PROJECT_DIR, HomePaths
from tests.conftest import query

DBT = str(Path(sys.executable).with_name("dbt"))
MONTHS = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
THAI_NGUYEN = "thai_nguyen_2020_h1.zip"


def _rewrite_bundle(data: bytes, month: str, keep=lambda ma_xa: True, edit=None) -> bytes:
    """The half-year bundle as one month's submissions (ky_bao_cao = month), for the communes `keep`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            lines = source.read(name).decode("utf-8").splitlines()
            rows = [lines[0]] + [line for line in lines[1:] if keep(line.split(",")[0])]
            text = "\n".join(rows) + "\n"
            text = text.replace(",2020-H1,", f",{month},").replace("2020-06-", f"{month}-")
            if edit:
                text = edit(name, text)
            target.writestr(name, text.encode("utf-8"))
    return out.getvalue()


def _bundle_as_workbooks(data: bytes) -> dict[str, bytes]:
    """Each submission of a CSV bundle as the commune's own Excel template (file name → bytes)."""
    import csv

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        tables = {name[:-4]: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))
                  for name in archive.namelist()}
    submissions = {
        row["ma_xa"]: Submission(ma_xa=row["ma_xa"], ky_bao_cao=row["ky_bao_cao"], bo_tieu_chi=row["bo_tieu_chi"],
                                 ngay_lap=row["ngay_lap"], criteria_met=set(), ten_xa=row["ten_xa"],
                                 ma_tinh=row["ma_tinh"])
        for row in tables["thong_tin"]}
    for row in tables["tieu_chi"]:
        if row["trang_thai"] == "Đạt":
            submissions[row["ma_xa"]].criteria_met.add(int(row["tieu_chi"]))
    for row in tables["ocop"]:
        submissions[row["ma_xa"]].ocop.append({k: row[k] or None for k in OCOP_KEYS})
    for row in tables["tong_hop"]:
        submissions[row["ma_xa"]].totals = {k: v for k, v in row.items() if k not in ("ma_xa", "ky_bao_cao") and v}
    return {f"bao_cao_{ma_xa}_{sub.ky_bao_cao}.xlsx": workbook_bytes(sub) for ma_xa, sub in submissions.items()}


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """Thái Nguyên's half year as six monthly files; ten communes skip June (their May stocks hold).
    January to May arrive as district CSV bundles, June as one Excel template per commune."""
    sample = tmp_path_factory.mktemp("sample")
    build_demo_sample(sample)
    half_year = (sample / "landing" / THAI_NGUYEN).read_bytes()
    with zipfile.ZipFile(io.BytesIO(half_year)) as archive:
        communes = [line.split(",")[0] for line in archive.read("thong_tin.csv").decode().splitlines()[1:]]
    late_in_june = set(communes[:10])
    home = HomePaths(tmp_path_factory.mktemp("monthly") / "home").ensure()
    shutil.copy2(sample / "reference" / "roster.csv", home.roster_file)
    for month in MONTHS:
        keep = (lambda ma_xa: ma_xa not in late_in_june) if month == "2020-06" else (lambda ma_xa: True)
        bundle = _rewrite_bundle(half_year, month, keep)
        if month == "2020-06":
            for name, workbook in _bundle_as_workbooks(bundle).items():
                (home.landing / name).write_bytes(workbook)
        else:
            (home.landing / f"thai_nguyen_{month}.zip").write_bytes(bundle)
    claims = (sample / "landing" / "chi_so_bao_cao.csv").read_text("utf-8")
    (home.landing / "chi_so.csv").write_text(  # Thái Nguyên's claims only
        "\n".join(line for line in claims.splitlines() if line.startswith(("cap,", "tinh,19,"))) + "\n", "utf-8")
    assert run_pipeline(home) == 0
    return home, half_year, communes


def _province(home: HomePaths, month: str) -> tuple:
    return query(home.warehouse, """
        select so_xa, so_xa_dat_chuan, ty_le_xa_dat_chuan, so_xa_15_18_tc, so_xa_10_14_tc, so_xa_duoi_10_tc,
               so_san_pham_ocop, so_thon_kieu_mau, so_mo_hinh_sxkd_moi
        from mart_unit_month where cap = 'tinh' and ma_don_vi = '19' and thang = ?""", [month])[0]


def test_monthly_files_reproduce_the_half_year_report(monthly):
    home, _, _ = monthly
    so_xa, dat_chuan, ty_le, b15, b10, duoi_10, ocop, thon, _ = _province(home, "2020-06")
    assert (so_xa, dat_chuan, b15, b10, duoi_10, ocop, thon) == (121, 87, 11, 23, 0, 25, 23)
    assert query(home.warehouse, "select count(*) from raw.files where file_name like '%.xlsx' "
                                 "and status = 'accepted'") == [(111,)]  # June: one workbook per commune
    assert ty_le == pytest.approx(100 * 87 / 121, abs=1e-12)
    assert query(home.warehouse, "select count(*), count_if(khop) from claim_reconciliation") == [(8, 8)]
    # the ten communes without a June file hold their May stocks
    assert query(home.warehouse, """select count(*) from fct_commune_status
                                    where thang = '2020-06' and thang_ky_so_lieu = date '2020-05-01'""") == [(10,)]
    criteria = query(home.warehouse, """select count(*), count(distinct ma_xa) from fct_commune_criteria
                                        where thang = '2020-06' and ma_tinh = '19'""")
    assert criteria == [(121 * 19, 121)]


def test_reform_roll_up_keeps_the_province_series(monthly):
    home, _, _ = monthly
    # Thái Nguyên's legacy communes all belong to the 2025 province 19 (merged with Bắc Kạn)
    rows = query(home.warehouse, """
        select ma_tinh_2025, so_xa, so_xa_dat_chuan, so_san_pham_ocop, era
        from mart_province_month_2025 where thang = '2020-06' order by ma_tinh_2025""")
    national = query(home.warehouse, """select so_xa, so_xa_dat_chuan from mart_unit_month
                                        where cap = 'toan_quoc' and thang = '2020-06'""")[0]
    assert (sum(r[1] for r in rows), sum(r[2] for r in rows)) == national
    by_province = {r[0]: r for r in rows}
    assert by_province["19"][1:4] == (121, 87, 25) and by_province["19"][4] == "legacy"
    expected = query(home.warehouse, """
        select count(*) from fct_commune_month f
        join dim_admin_unit u on u.era = f.era and u.ma_xa = f.ma_xa
        where f.thang = '2020-06' and u.ma_tinh_2025 = '19'""")[0][0]
    assert expected == 121


def test_late_submission_rebuilds_only_its_months(monthly):
    home, half_year, communes = monthly
    target = communes[20]
    before = {m: _province(home, m) for m in MONTHS}
    other_rows = query(home.warehouse, "select * from mart_unit_month where thang <> '2020-03' order by all")

    def more_models(name, text):  # the commune corrects March: 9 new production models, prepared later
        if name == "tong_hop.csv":
            header, *rows = text.splitlines()
            column = header.split(",").index("so_mo_hinh_sxkd_moi")
            fixed = []
            for row in rows:
                cells = row.split(",")
                cells[column] = "9"
                fixed.append(",".join(cells))
            text = "\n".join([header, *fixed]) + "\n"
        if name == "thong_tin.csv":
            text = text.replace("2020-03-", "2020-04-")  # a later ngay_lap supersedes
        return text

    old = query(home.warehouse, """select so_mo_hinh_sxkd_moi from fct_commune_flows
                                   where ma_xa = ? and thang = '2020-03'""", [target])[0][0]
    correction = _rewrite_bundle(half_year, "2020-03", keep=lambda ma_xa: ma_xa == target, edit=more_models)
    (home.landing / "thai_nguyen_2020-03_sua.zip").write_bytes(correction)
    # the commune reported again in April, so the correction reaches March only
    assert run_pipeline(home, months=("2020-03", "2020-03")) == 0

    after = {m: _province(home, m) for m in MONTHS}
    assert after["2020-03"][8] == before["2020-03"][8] - old + 9
    assert after["2020-03"][:8] == before["2020-03"][:8]
    assert {m: v for m, v in after.items() if m != "2020-03"} == {m: v for m, v in before.items() if m != "2020-03"}
    assert query(home.warehouse, "select * from mart_unit_month where thang <> '2020-03' order by all") == other_rows
    assert query(home.warehouse, "select count(*) from intermediate.int_submission_versions where ma_xa = ? and ky_bao_cao = '2020-03'",
                 [target]) == [(2,)]
    # ... and the monthly models' data tests looked at March only, as the run compiled them
    [grain_test] = (home.dbt_target / "compiled").rglob("unique_grain_fct_commune_month_*.sql")
    assert "thang_ky between cast('2020-03-01' as date) and cast('2020-03-01' as date)" in grain_test.read_text()


def _dbt(home: HomePaths, tmp_path: Path, *args: str, **extra_vars) -> subprocess.CompletedProcess:
    warehouse = tmp_path / "warehouse.duckdb"
    if not warehouse.exists():
        shutil.copy2(home.warehouse, warehouse)
    dbt_vars = json.dumps({"warehouse_path": str(warehouse), **extra_vars})
    return subprocess.run(
        [DBT, "--no-use-colors", *args, "--vars", dbt_vars, "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})


def test_dbt_unit_tests_pass_and_catch_a_changed_rule(monthly, tmp_path):
    home, _, _ = monthly
    passing = _dbt(home, tmp_path, "test", "--select", "test_type:unit")
    assert passing.returncode == 0, passing.stdout[-3000:]
    done = re.search(r"Done\. PASS=(\d+) WARN=0 ERROR=0", passing.stdout)
    assert done and int(done.group(1)) >= 7  # ours; other engineers' models may add their own
    # the band test pins the default edges: other edges must make it fail
    failing = _dbt(home, tmp_path, "test", "--select", "mart_unit_month_counts_communes_by_band_of_criteria_met",
                   band_edges=[16, 10, 5])
    assert failing.returncode != 0 and "FAIL" in failing.stdout
