"""Benchmark: the audit (every SQL check), the quality issues, the report and the publication on a
national synthetic history. Prints figures; docs/quality.md records them with the machine.

    .venv/bin/python benchmarks/quality.py [--communes 8000] [--months 60] [--home DIR]

The history is written straight into the raw tables, in the canonical text the ingest step writes
(one file per province and month, as a province's batch), so that the figures measure checks and
publication, not file parsing. `pipelines/generate.py` (`ntm generate`) was not there when this was
written; if it is, its files can be ingested with `ntm run` and measured with `--existing`.
Planted in the history so that the checks have something to find: criteria drops, flow outliers,
expired OCOP certificates, late province batches, a few claims that do not add up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines.ingest.store import create_raw_tables  # noqa: E402
from pipelines.lib.dbt import dbt_executable  # noqa: E402
from pipelines.publish.publisher import publish  # noqa: E402
from pipelines.publish.report import build_report, write_report  # noqa: E402
from pipelines.quality.issues import load_policy, refresh_issues  # noqa: E402
from pipelines.reference import admin_units as units  # noqa: E402
from pipelines.lib.resources import NtmSettings  # noqa: E402
from pipelines.settings import DBT_PROJECT_DIR  # noqa: E402

TOTAL_KEYS = {
    "so_tieu_chi_dat": "cast(met as varchar)",
    "danh_hieu": "case when met = 19 then 'NTM' else 'Chưa đạt' end",
    "so_quyet_dinh_cong_nhan": "case when met = 19 then (i % 900 + 100) || '/QĐ-UBND' end",
    "ngay_cong_nhan": "case when met = 19 then '2020-12-15' end",
    "so_san_pham_ocop": "cast(ocop_valid as varchar)",
    "so_san_pham_3_sao": "cast(ocop_valid as varchar)",
    "so_san_pham_4_sao": "'0'",
    "so_san_pham_5_sao": "'0'",
    "so_thon_kieu_mau": "cast(met // 10 as varchar)",
    "so_mo_hinh_sxkd_moi": "cast((h % 3 = 0)::int as varchar)",
    "so_htx_moi": "cast((h % 11 = 0)::int as varchar)",
    "so_tht_moi": "cast((h % 7 = 0)::int as varchar)",
    "so_dn_moi": "'0'",
    "von_ke_hoach_trieu_dong": "'300'",
    "von_giai_ngan_trieu_dong": "cast(case when i % 997 = 0 and t = 45 then 90000 else 150 + h % 40 end as varchar)",
    "xi_mang_tan": "cast(20 + h % 5 as varchar)",
}


def build_history(conn: duckdb.DuckDBPyConnection, n_communes: int, n_months: int) -> dict:
    conn.execute("create schema if not exists ref")
    for table, frame in (("admin_units", units.admin_units()), ("admin_unit_crosswalk", units.crosswalk())):
        conn.register("incoming", frame)
        conn.execute(f"create or replace table ref.{table} as select * from incoming")
        conn.unregister("incoming")
    conn.execute("""create or replace table ref.roster (ma_xa varchar, ten_xa varchar, ma_huyen varchar,
                    ma_tinh varchar, tu_thang varchar, den_thang varchar)""")
    create_raw_tables(conn)
    # Months end in June 2025, the last month of the three-level units every commune here belongs to.
    conn.execute(f"""
        create temp table communes as
        select ma_xa, ten_xa, ma_huyen, ma_tinh, row_number() over (order by ma_xa) as i
        from ref.admin_units where era = 'legacy' and loai_xa = 'Xã' order by ma_xa limit {n_communes};
        create temp table months as
        select strftime(d, '%Y-%m') as ky, cast(d as date) as d,
               row_number() over (order by d) - 1 as t
        from range(date '2025-07-01' - interval {n_months} month, date '2025-07-01', interval 1 month) as r(d);
        create temp table history as
        select c.*, m.ky, m.d, m.t,
               abs(hash(c.ma_xa || m.ky)) as h,
               md5(c.ma_tinh || m.ky) as file_sha256,
               'tinh_' || c.ma_tinh || '_' || m.ky || '.zip' as file_name,
               substr(md5(c.ma_tinh || m.ky), 1, 16) || ':' || c.ma_xa || ':' || m.ky as submission_id,
               -- criteria rise slowly; one commune in 500 loses four criteria for a month
               greatest(0, least(19, 6 + abs(hash(c.ma_xa)) % 10 + m.t // 6)
                   - case when c.i % 500 = 0 and m.t = {n_months // 2} then 4 else 0 end) as met,
               case when c.i % 6 = 0 then 1 else 0 end as has_product,
               case when c.i % 600 = 0 or m.t < {max(n_months - 30, 0)} then date '2020-03-01'
                    else date '2023-01-15' end as ocop_decided,
               row_number() over (partition by c.ma_tinh, m.ky order by c.ma_xa) + 1 as source_row
        from communes as c cross join months as m;
        alter table history add column ocop_valid integer;
        update history set ocop_valid = case when has_product = 1 and ocop_decided <= last_day(d)
                                              and ocop_decided + interval 36 month > last_day(d) then 1 else 0 end;
    """)
    # One province's batch in 40 arrives five weeks late.
    conn.execute("""
        insert into raw.files
        select distinct file_sha256, file_name, 'submission',
               d + interval 1 month + case when abs(hash(file_sha256)) % 40 = 0 then interval 40 day
                                           else interval 4 day end,
               current_timestamp, 'accepted', 'archive/' || file_sha256 || '.zip', 0, 0
        from history""")
    conn.execute("""
        insert into raw.submissions
        select submission_id, ma_xa, ky, ky, case when ky < '2022-01' then '2016-2020' else '2021-2025' end,
               nfc_normalize(ten_xa), ma_tinh, ky || '-25', 'Văn phòng NTM xã', '1', file_sha256, file_name, 'thong_tin.csv',
               source_row
        from history""")
    conn.execute("""
        insert into raw.tieu_chi
        select submission_id, ma_xa, ky, cast(c as varchar), case when c <= met then 'true' else 'false' end, null,
               file_sha256, file_name, 'tieu_chi.csv', (source_row - 2) * 19 + c + 1
        from history, range(1, 20) as r(c)""")
    values = ", ".join(f"('{key}', {expr})" for key, expr in TOTAL_KEYS.items())
    conn.execute(f"""
        insert into raw.tong_hop
        select submission_id, ma_xa, ky, v.truong, v.gia_tri, v.truong, file_sha256, file_name, 'tong_hop.csv',
               source_row
        from history, lateral (values {values}) as v(truong, gia_tri)
        where v.gia_tri is not null""")
    conn.execute("""
        insert into raw.ocop
        select submission_id, ma_xa, ky, 'OCOP-' || ma_xa, 'Chè ' || ma_xa, 'Thực phẩm', 'HTX ' || ma_xa, 'HTX', '65',
               '3', (i % 900 + 100) || '/QĐ-UBND', strftime(ocop_decided, '%Y-%m-%d'), 'huyện', file_sha256,
               file_name, 'ocop.csv', source_row
        from history where has_product = 1""")
    # Each province states its communes and recognised communes for the last half-year; one in ten
    # mistypes the second figure.
    conn.execute("""
        insert into raw.files values ('claims-benchmark', 'chi_so_tinh.csv', 'claims', timestamp '2025-07-20',
                                      current_timestamp, 'accepted', 'archive/claims-benchmark.csv', 0, 0)""")
    conn.execute("""
        insert into raw.claims
        with last_month as (select * from history where t = (select max(t) from months)),
        stated as (
            select ma_tinh, 'so_xa' as chi_so, count(*) as n from last_month group by ma_tinh
            union all
            select ma_tinh, 'so_xa_dat_chuan', count_if(met = 19)
                + case when cast(ma_tinh as integer) % 10 = 0 then 3 else 0 end from last_month group by ma_tinh
        )
        select 'claims-benchmark:' || row_number() over (), 'tinh', ma_tinh,
               (select min(ky) from months where t >= (select max(t) - 5 from months)),
               (select max(ky) from months), chi_so, cast(n as varchar), cast(n as varchar), 'benchmark', 0,
               'claims-benchmark', 'chi_so_tinh.csv', 'chi_so_tinh.csv', row_number() over () + 1
        from stated""")
    return {table: conn.execute(f"select count(*) from raw.{table}").fetchone()[0]
            for table in ("files", "submissions", "tieu_chi", "tong_hop", "ocop", "claims")}


def dbt(settings: NtmSettings, *args: str) -> float:
    started = time.perf_counter()
    dbt_vars = {"warehouse_path": str(settings.paths.warehouse), **settings.dbt_vars()}
    completed = subprocess.run(
        [dbt_executable(), *args, "--vars", json.dumps(dbt_vars), "--target-path", str(settings.paths.dbt_target),
         "--quiet"],
        cwd=DBT_PROJECT_DIR, capture_output=True, text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if completed.returncode != 0 and "ERROR=0" not in completed.stdout:
        sys.exit(f"dbt {' '.join(args)} failed:\n{completed.stdout[-4000:]}{completed.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", type=int, default=8000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--home", help="home to use (default: a temporary folder, removed afterwards)")
    parser.add_argument("--existing", action="store_true", help="the home's warehouse is built: measure only")
    args = parser.parse_args()
    home = Path(args.home).resolve() if args.home else Path(tempfile.mkdtemp(prefix="ntm-bench-quality-"))
    settings = NtmSettings(home=str(home))
    paths = settings.paths.ensure()
    figures: dict[str, float] = {}
    try:
        if not args.existing:
            started = time.perf_counter()
            with duckdb.connect(str(paths.warehouse)) as conn:
                rows = build_history(conn, args.communes, args.months)
            figures["history written (s)"] = time.perf_counter() - started
            print("raw rows:", rows, flush=True)
            figures["dbt build of the warehouse, tests included (s)"] = dbt(settings, "build")

        # What this benchmark is about: the checks and the publication on a built warehouse.
        figures["audit models: every SQL check (s)"] = dbt(settings, "run", "--select", "path:models/audit")
        started = time.perf_counter()
        with duckdb.connect(str(paths.warehouse)) as conn:
            counts = refresh_issues(conn, load_policy(Path(settings.policy_file)))
            figures["quality issues: policy, history, waivers (s)"] = time.perf_counter() - started
            started = time.perf_counter()
            page = write_report(paths, build_report(conn, "benchmark"))
            figures["report: JSON + HTML (s)"] = time.perf_counter() - started
            scale = conn.execute("""select (select count(distinct ma_xa) from raw.submissions),
                                           (select count(*) from main.fct_commune_month),
                                           (select count(*) from main.mart_unit_month),
                                           (select count(*) from audit.audit_findings)""").fetchone()
        started = time.perf_counter()
        manifest = publish(paths, "benchmark-run", checks_passed=["benchmark"])
        figures["publish: database + Parquet + manifest (s)"] = time.perf_counter() - started
        gate = sum(v for k, v in figures.items() if k.startswith(("audit", "quality", "report", "publish")))
        figures["checks + publication, total (s)"] = gate

        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"{platform.platform()}")
        fewer = f" (of {args.communes} asked: the reference has no more Xã)" if scale[0] < args.communes else ""
        print(f"history: {scale[0]:,} communes{fewer} x "
              f"{args.months} months; fct_commune_month {scale[1]:,} rows, mart_unit_month {scale[2]:,} rows; "
              f"findings {scale[3]:,}; issues {counts}")
        print(f"load average during the run: {os.getloadavg()}")
        print(f"published tables: {len(manifest['row_counts'])}; "
              f"published db {paths.published_db.stat().st_size / 1e6:.0f} MB; report {page.stat().st_size / 1e6:.1f} MB")
        for name, seconds in figures.items():
            print(f"{name:<50} {seconds:8.1f}")
        print(f"target ≤ 60 s for checks + publication: {'met' if gate <= 60 else 'NOT met'}")
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
