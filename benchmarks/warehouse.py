"""Warehouse benchmark: the dbt build on a national history (prints figures; not a test).

    .venv/bin/python benchmarks/warehouse.py [--communes 8000] [--months 60] [--cache /tmp/ntm_bench_wh]

1. `ntm generate` writes the history (cached by size). One province-month bundle goes through the
   real pipeline (reference data, ingest, dbt) so every table exists; the rest is bulk-loaded into
   raw.* with DuckDB in the ingest's canonical form (the ingest has its own benchmark), so the
   figures below are the warehouse's alone.
2. full        the pipeline's three dbt steps (`dbt build`, unit tests excluded as in the
               pipeline) with no month window
   late month  a corrected submission for one commune and month arrives: the pipeline's three dbt
               steps as Dagster runs them (in one process, dbt's programmatic runner), the monthly
               step limited to that month
               (NTM_MIN_MONTH / NTM_MAX_MONTH)
   floor       the compiled SQL of the same models run straight in DuckDB in dbt's order, on a copy
               of the warehouse (tables replaced; for the late month, the month deleted and
               inserted in the month-incremental models)
Peak memory is this process's largest resident set (dbt runs in it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DBT_DIR = ROOT / "dbt_project"


def dbt(args: list[str], warehouse: Path, target: Path, window: str | None = None) -> tuple[float, float]:
    """Run dbt as the pipeline does (pipelines/lib/dbt.py `run_dbt`: in this process, one parse kept
    for every step), for one month's window if given; (seconds, peak MiB so far)."""
    from pipelines.lib.dbt import run_dbt

    started = time.perf_counter()
    outcome = run_dbt(args, {"warehouse_path": str(warehouse)}, target,
                      {"NTM_MIN_MONTH": window, "NTM_MAX_MONTH": window})
    elapsed = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"dbt {' '.join(args)} failed: {outcome.exception}")
    return elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def built_models(target: Path) -> list[tuple[str, str, str]]:
    """(relation, materialisation, compiled SQL) of every model the last dbt invocation built, in
    the order it finished them (which respects dependencies)."""
    manifest = json.loads((target / "manifest.json").read_text())
    results = json.loads((target / "run_results.json").read_text())["results"]
    models = []
    for result in results:
        node = manifest["nodes"].get(result["unique_id"])
        if node is None or node["resource_type"] != "model":
            continue
        compiled = target / "compiled" / node["package_name"] / node["original_file_path"]
        materialized = node["config"]["materialized"]
        if materialized == "incremental" and "monthly" not in node["tags"]:
            materialized = "by_period"  # models/intermediate/by_period: incremental from a month on
        models.append((node["relation_name"], materialized, compiled.read_text()))
    return models


def floor(warehouse: Path, models: list[tuple[str, str, str]], window: str | tuple[str, str] | None = None,
          from_month: str | None = None) -> float:
    """The models' compiled SQL run straight in DuckDB, in dbt's order, on a copy of the warehouse:
    views and tables replaced, month-incremental models' window (a month, or first and last month;
    the SQL compiled for that window) deleted and inserted, and the intermediate models by period
    from `from_month` on (compiled for it), or replaced."""
    import duckdb

    first, last = (window, window) if isinstance(window, str) else window or (None, None)
    rebuilt = {"incremental": first and f"thang_ky between cast('{first}-01' as date) and cast('{last}-01' as date)",
               "by_period": from_month and f"thang_ky >= cast('{from_month}-01' as date)"}
    copy = warehouse.parent / "floor" / warehouse.name  # the same file name: relations name the database
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(warehouse, copy)
    os.sync()  # the copy on disk first: its flush is not the SQL's work (the runs get the same)
    try:
        with duckdb.connect(str(copy)) as conn:
            from pipelines.lib.sql_functions import register

            register(conn)  # the name folds dbt-duckdb's plugin gives dbt's connection (profiles.yml)
            started = time.perf_counter()
            for relation, materialized, sql in models:
                if materialized == "view":
                    conn.execute(f"create or replace view {relation} as {sql}")
                elif rebuilt.get(materialized):
                    conn.execute(f"delete from {relation} where {rebuilt[materialized]}")
                    conn.execute(f"insert into {relation} by name {sql}")
                else:
                    conn.execute(f"create or replace table {relation} as {sql}")
            return time.perf_counter() - started
    finally:
        copy.unlink(missing_ok=True)


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
        for table in ("submissions", "tieu_chi", "tong_hop", "files"):  # a previous run's late submission
            conn.execute(f"delete from raw.{table} where file_sha256 like 'late%'")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--communes", type=int, default=8000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--cache", default="/tmp/ntm_bench_wh")
    parser.add_argument("--late-month", default="2023-03")
    parser.add_argument("--repeat", type=int, default=3, help="late-month runs (median reported)")
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

    started = time.perf_counter()
    importlib.import_module("dbt.cli.main")  # once per run process; the definitions import most of it already
    print(f"importing dbt (once per process, not counted):  {time.perf_counter() - started:6.1f} s")
    full, full_models, peak = pipeline_steps(warehouse, target, None)
    print(f"full build, the pipeline's three dbt steps: {full[0]:.1f} + {full[1]:.1f} + {full[2]:.1f} = "
          f"{sum(full):.1f} s   peak {peak:6.0f} MiB")
    full_floor = floor(warehouse, [m[:3] for m in full_models])
    print(f"floor: the same {len(full_models)} models' SQL in DuckDB:   {full_floor:6.1f} s   "
          f"(dbt / floor {sum(full) / full_floor:.1f}x)")

    late_submission(warehouse, args.late_month)
    chains = []
    for _ in range(args.repeat):  # the same month again: the rebuild is idempotent; the spread shows the noise
        late, late_models, peak = pipeline_steps(warehouse, target, args.late_month)
        chains.append(sum(late))
        print(f"late month {args.late_month}: upstream {late[0]:.1f} s + monthly (one month) {late[1]:.1f} s + "
              f"checks/audit {late[2]:.1f} s = {sum(late):.1f} s   peak {peak:6.0f} MiB")
    late_median = sorted(chains)[len(chains) // 2]
    print(f"late month over {len(chains)} runs: median {late_median:.1f} s, range {min(chains):.1f}-{max(chains):.1f} s")
    late_floor = sum(floor(warehouse, [m[:3] for m in late_models if m[3] == w], w) for w in (None, args.late_month))
    print(f"floor: the same {len(late_models)} models' SQL in DuckDB:   {late_floor:6.1f} s   "
          f"(dbt median / floor {late_median / late_floor:.1f}x)")
    monthly_floor = floor(warehouse, [m[:3] for m in late_models if m[3]], args.late_month)
    print(f"late month, monthly step alone: {late[1]:.1f} s; floor {monthly_floor:.1f} s "
          f"(dbt / floor {late[1] / monthly_floor:.1f}x)")


def pipeline_steps(warehouse: Path, target: Path, window: str | None) -> tuple[list[float], list[tuple], float]:
    """The pipeline's three dbt steps as Dagster runs them (upstream, month-incremental models for the
    window or every month, checks/audit; unit tests excluded; the first step also parses the
    project): (seconds per step, models built with the window each saw, peak MiB)."""
    from pipelines.lib.dbt import PARSED_MANIFESTS

    PARSED_MANIFESTS.clear()  # each run of the pipeline is a new process: it parses once, in its first step
    seconds, models, peak = [], [], 0.0
    for selection, step_window in ((["--exclude", "tag:monthly+"], None), (["--select", "tag:monthly"], window),
                                   (["--select", "tag:monthly+", "--exclude", "tag:monthly"], None)):
        elapsed, peak = dbt(["build", "--exclude-resource-type", "unit_test", *selection], warehouse, target, step_window)
        seconds.append(elapsed)
        models += [(*model, step_window) for model in built_models(target)]
    return seconds, models, peak


if __name__ == "__main__":
    main()
