"""Warehouse benchmark: the dbt build on a national history (prints figures; not a test).

    .venv/bin/python benchmarks/warehouse.py [--communes 8000] [--months 60] [--cache /tmp/ntm_bench_wh]

1. `ntm generate` writes the history (cached by size). One province-month bundle goes through the
   real pipeline (reference data, ingest, dbt) so every table exists; the rest is bulk-loaded into
   raw.* with DuckDB in the ingest's canonical form (the ingest has its own benchmark), so the
   figures below are the warehouse's alone.
2. full        `dbt build` of every model and test, no month window (what `ntm run` does)
   monthly     the month-incremental models alone, every month (`dbt run --select tag:monthly`)
   late month  a corrected submission for one commune and month arrives: the pipeline's three dbt
               steps, with the monthly step limited to that month (vars min_month / max_month)
   floor       the same SQL (fct_commune_month then mart_unit_month, as dbt compiled it) run
               directly in DuckDB, for all months and for the one month
Peak memory is the largest resident set of any dbt process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DBT = str(Path(sys.executable).with_name("dbt"))
DBT_DIR = ROOT / "dbt_project"


def dbt(args: list[str], warehouse: Path, target: Path, extra_vars: dict | None = None) -> tuple[float, float]:
    """Run dbt in its own process; (seconds, peak MiB of any child so far)."""
    dbt_vars = json.dumps({"warehouse_path": str(warehouse), **(extra_vars or {})})
    started = time.perf_counter()
    completed = subprocess.run(
        [DBT, *args, "--vars", dbt_vars, "--target-path", str(target), "--log-path", str(target / "logs"), "-q"],
        cwd=DBT_DIR, capture_output=True, text=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        print(completed.stdout[-4000:], completed.stderr[-2000:])
        raise SystemExit(f"dbt {' '.join(args)} failed")
    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bulk_load(warehouse: Path, bundles: list[Path]) -> None:
    """Raw rows as the ingest writes them (canonical text, lineage), straight from the bundles' CSVs."""
    import duckdb

    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(str(warehouse)) as conn:
        tmp = Path(tmp)
        for bundle in bundles:
            sha = bundle.stem.ljust(64, "0")
            folder = tmp / sha
            with zipfile.ZipFile(bundle) as archive:
                archive.extractall(folder)
        files = f"'{tmp}/*/%s'"
        sub_id = "left(split_part(filename, '/', -2), 16) || ':' || ma_xa || ':' || ky_bao_cao"
        lineage = "split_part(filename, '/', -2) as file_sha256, 'bench.zip' as file_name"
        conn.execute(f"""
            insert into raw.files (file_sha256, file_name, kind, arrived_at, ingested_at, status, stored_path, n_errors, n_warnings)
            select distinct split_part(filename, '/', -2), 'bench.zip', 'submission', now(), now(), 'accepted', '', 0, 0
            from read_csv({files % 'thong_tin.csv'}, all_varchar=true, filename=true)""")
        conn.execute(f"""
            insert into raw.submissions (submission_id, ma_xa, ky_bao_cao, thang, bo_tieu_chi, ten_xa, ma_tinh, ngay_lap,
                                         nguoi_lap, phien_ban_mau, file_sha256, file_name, source_sheet, source_row)
            select {sub_id}, ma_xa, ky_bao_cao, ky_bao_cao, bo_tieu_chi, ten_xa, ma_tinh, ngay_lap, nguoi_lap,
                   phien_ban_mau, {lineage}, 'thong_tin.csv', 2
            from read_csv({files % 'thong_tin.csv'}, all_varchar=true, filename=true)""")
        conn.execute(f"""
            insert into raw.tieu_chi (submission_id, ma_xa, ky_bao_cao, tieu_chi, trang_thai, ghi_chu, file_sha256,
                                      file_name, source_sheet, source_row)
            select {sub_id}, ma_xa, ky_bao_cao, tieu_chi, case when trang_thai = 'Đạt' then 'true' else 'false' end,
                   null, {lineage}, 'tieu_chi.csv', 2
            from read_csv({files % 'tieu_chi.csv'}, all_varchar=true, filename=true)""")
        conn.execute(f"""
            insert into raw.ocop (submission_id, ma_xa, ky_bao_cao, ma_san_pham, ten_san_pham, nhom_san_pham, chu_the,
                                  loai_chu_the, diem, so_sao, so_quyet_dinh, ngay_quyet_dinh, cap_danh_gia, file_sha256,
                                  file_name, source_sheet, source_row)
            select {sub_id}, ma_xa, ky_bao_cao, ma_san_pham, ten_san_pham, nhom_san_pham, chu_the, loai_chu_the, diem,
                   so_sao, so_quyet_dinh, ngay_quyet_dinh, cap_danh_gia, {lineage}, 'ocop.csv', 2
            from read_csv({files % 'ocop.csv'}, all_varchar=true, filename=true)""")
        conn.execute(f"""
            insert into raw.tong_hop (submission_id, ma_xa, ky_bao_cao, truong, gia_tri, source_column, file_sha256,
                                      file_name, source_sheet, source_row)
            select {sub_id}, ma_xa, ky_bao_cao, truong, gia_tri, truong, {lineage}, 'tong_hop.csv', 2
            from (unpivot read_csv({files % 'tong_hop.csv'}, all_varchar=true, filename=true)
                  on columns(* exclude (ma_xa, ky_bao_cao, filename)) into name truong value gia_tri)""")


def prepare(cache: Path, communes: int, months: int) -> Path:
    """A home whose warehouse holds the whole history; cached."""
    from pipelines.cli import run_pipeline
    from pipelines.generate import generate_history
    from pipelines.settings import HomePaths

    home = HomePaths(cache / f"home-{communes}x{months}")
    ready = home.home / "READY"
    if ready.exists():
        return home.home
    shutil.rmtree(home.home, ignore_errors=True)
    source = cache / f"generated-{communes}x{months}"
    if not (source / "GENERATED").exists():
        shutil.rmtree(source, ignore_errors=True)
        generate_history(source, communes=communes, months=months)
        (source / "GENERATED").touch()
    home.ensure()
    bundles = sorted((source / "landing").glob("*.zip"))
    shutil.copy2(source / "reference" / "roster.csv", home.roster_file)
    shutil.copy2(bundles[0], home.landing / bundles[0].name)
    run_pipeline(home)  # reference, ingest and every table, on one bundle
    bulk_load(home.warehouse, bundles[1:])
    ready.touch()
    return home.home


def late_submission(warehouse: Path, month: str) -> None:
    """A corrected submission for one commune and month: later ngay_lap, two more criteria met."""
    import duckdb

    with duckdb.connect(str(warehouse)) as conn:
        sub = conn.execute("select submission_id, ma_xa from raw.submissions where ky_bao_cao = ? order by ma_xa limit 1",
                           [month]).fetchone()
        new_id = sub[0] + ":late"
        conn.execute("insert into raw.files select 'late' || file_sha256[5:], file_name, kind, now(), now(), status, "
                     "stored_path, 0, 0 from raw.files limit 1")
        sha = conn.execute("select file_sha256 from raw.files where file_sha256 like 'late%'").fetchone()[0]
        conn.execute("insert into raw.submissions select ? , ma_xa, ky_bao_cao, thang, bo_tieu_chi, ten_xa, ma_tinh, "
                     "cast(cast(ngay_lap as date) + 3 as varchar), nguoi_lap, phien_ban_mau, ?, file_name, source_sheet, "
                     "source_row from raw.submissions where submission_id = ?", [new_id, sha, sub[0]])
        conn.execute("insert into raw.tieu_chi select ?, ma_xa, ky_bao_cao, tieu_chi, 'true', ghi_chu, ?, file_name, "
                     "source_sheet, source_row from raw.tieu_chi where submission_id = ?", [new_id, sha, sub[0]])
        conn.execute("insert into raw.tong_hop select ?, ma_xa, ky_bao_cao, truong, gia_tri, source_column, ?, file_name, "
                     "source_sheet, source_row from raw.tong_hop where submission_id = ?", [new_id, sha, sub[0]])


def floor(warehouse: Path, target: Path) -> float:
    """fct_commune_month then mart_unit_month as compiled, run straight in DuckDB."""
    import duckdb

    compiled = target / "compiled" / "ntm" / "models" / "marts"
    fct = (compiled / "fct_commune_month.sql").read_text()
    mart = (compiled / "mart_unit_month.sql").read_text()
    with duckdb.connect(str(warehouse)) as conn:
        started = time.perf_counter()
        conn.execute(f"create or replace temp table floor_fct as {fct}")
        conn.execute(f"create or replace temp table floor_mart as {mart}")
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=8000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--cache", default="/tmp/ntm_bench_wh")
    parser.add_argument("--late-month", default="2023-03")
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    home = prepare(cache, args.communes, args.months)
    print(f"setup (generate, load): {time.perf_counter() - started:.1f} s")
    warehouse = home / "warehouse.duckdb"
    target = cache / "dbt-target"
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        sizes = {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in ("submissions", "tieu_chi", "tong_hop", "ocop")}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"raw rows: {sizes}")

    full, peak = dbt(["build"], warehouse, target)
    print(f"full dbt build (all models and tests):          {full:6.1f} s   peak {peak:6.0f} MiB")
    monthly, peak = dbt(["run", "--select", "tag:monthly"], warehouse, target)
    print(f"monthly models, every month (dbt run):          {monthly:6.1f} s   peak {peak:6.0f} MiB")
    dbt(["compile", "--select", "fct_commune_month", "mart_unit_month"], warehouse, target)
    floor_full = floor(warehouse, target)
    print(f"floor: the same SQL in DuckDB, every month:     {floor_full:6.1f} s   (dbt / floor {monthly / floor_full:.1f}x)")

    late_submission(warehouse, args.late_month)
    window = {"min_month": args.late_month, "max_month": args.late_month}
    upstream, _ = dbt(["build", "--exclude", "tag:monthly+"], warehouse, target)
    month_step, peak = dbt(["build", "--select", "tag:monthly"], warehouse, target, window)
    month_run, _ = dbt(["run", "--select", "tag:monthly"], warehouse, target, window)
    after, _ = dbt(["build", "--select", "tag:monthly+", "--exclude", "tag:monthly"], warehouse, target)
    dbt(["compile", "--select", "fct_commune_month", "mart_unit_month"], warehouse, target, window)
    floor_month = floor(warehouse, target)
    print(f"late month {args.late_month}: upstream build {upstream:.1f} s + monthly build (one month, with tests) "
          f"{month_step:.1f} s + checks/audit {after:.1f} s = {upstream + month_step + after:.1f} s   peak {peak:6.0f} MiB")
    print(f"late month, monthly models alone (dbt run):     {month_run:6.1f} s")
    print(f"floor: the same SQL in DuckDB, one month:       {floor_month:6.1f} s   (dbt / floor {month_run / floor_month:.1f}x)")


if __name__ == "__main__":
    main()
