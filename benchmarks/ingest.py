"""Ingestion benchmark: one national month as 8,000 xlsx templates and as CSV bundles (one per district).

    .venv/bin/python benchmarks/ingest.py [--communes 8000] [--cache /tmp/ntm_bench] [--skip-pandas]

Prints figures; it is not a test. Each measurement runs in its own process so that start-up
(imports) and peak memory are its own: start-up is reported apart from the work.
  ours      ingest_landing on a fresh home, as the ingest asset runs it: parse + normalise + Great
            Expectations (in its own process, importing while the workers parse: counted in the
            work) + load into DuckDB
  bare      the floor: calamine opening every sheet (xlsx), Arrow's CSV reader on every CSV (bundles)
  pandas    what an analyst would write: pandas.read_excel(sheet_name=None) on every workbook
The generated files are cached (by commune count) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
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

MONTH = "2025-05"  # the last month of the legacy era


def _peak_mib() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_self_mib": round(own, 1), "peak_child_mib": round(children, 1),
            "peak_total_mib": round(own + children, 1)}  # an upper bound: parent and a worker at their peaks


# --- the national month ----------------------------------------------------------------------------

def _submission(unit: dict, rng: random.Random):
    from pipelines.samples import Submission

    met = rng.choice([19] * 7 + list(range(10, 19)))
    titled = met == 19
    products = []
    for number in range(rng.choice([0, 0, 1, 1, 2, 3])):
        stars = rng.choice([3, 3, 3, 4, 4, 5])
        low = {3: 50, 4: 70, 5: 90}[stars]
        products.append({
            "ma_san_pham": f"OCOP-{unit['ma_xa']}-{number + 1}", "ten_san_pham": f"Sản phẩm {unit['ten_xa']} {number + 1}",
            "nhom_san_pham": "Thực phẩm", "chu_the": f"HTX {unit['ten_xa']}", "loai_chu_the": "HTX",
            "diem": rng.randint(low, low + 9), "so_sao": stars, "so_quyet_dinh": f"{rng.randint(1, 999)}/QĐ-UBND",
            "ngay_quyet_dinh": f"2023-{rng.randint(1, 12):02d}-15", "cap_danh_gia": "tỉnh"})
    totals = {
        "so_tieu_chi_dat": met, "danh_hieu": "NTM" if titled else "Chưa đạt",
        "so_quyet_dinh_cong_nhan": "123/QĐ-UBND" if titled else None, "ngay_cong_nhan": "2022-12-20" if titled else None,
        "so_san_pham_ocop": len(products), "so_thon_kieu_mau": rng.randint(0, 2),
        "so_mo_hinh_sxkd_moi": rng.randint(0, 2), "so_htx_moi": rng.randint(0, 1), "so_tht_moi": 0, "so_dn_moi": 0,
        "von_ke_hoach_trieu_dong": rng.randint(5, 40) * 100, "von_giai_ngan_trieu_dong": f"{rng.randint(100, 900)},5",
        "xi_mang_tan": rng.randint(0, 200),
    }
    for stars in (3, 4, 5):
        totals[f"so_san_pham_{stars}_sao"] = sum(p["so_sao"] == stars for p in products)
    return Submission(
        ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh=unit["ma_tinh"], ky_bao_cao=MONTH, bo_tieu_chi="2021-2025",
        ngay_lap="2025-05-28", criteria_met=set(rng.sample(range(1, 20), met)), totals=totals, ocop=products,
        sub_indicators=[{"ma_chi_tieu": "10.1", "gia_tri": f"{rng.randint(40, 90)},{rng.randint(0, 9)}",
                         "don_vi": "triệu đồng/người/năm"}])


def _write_workbooks(chunk: list[dict], target: str, seed: int) -> int:
    from pipelines.samples import workbook_bytes

    rng = random.Random(seed)
    for unit in chunk:
        Path(target, f"bao_cao_{unit['ma_xa']}_{MONTH}.xlsx").write_bytes(workbook_bytes(_submission(unit, rng)))
    return len(chunk)


def prepare(cache: Path, communes: int) -> Path:
    """Write the month once: xlsx/ (one per commune), zip/ (one bundle per district), csv/ (unzipped)."""
    data = cache / f"month_{communes}"
    if (data / "done").exists():
        return data
    from concurrent.futures import ProcessPoolExecutor

    from pipelines.reference.admin_units import admin_units
    from pipelines.samples import bundle_bytes

    units = admin_units()
    # The legacy list has ~7,700 Xã; thị trấn fill up to the national ~8,000 reporting units.
    units = units[(units.era == "legacy") & units.loai_xa.isin(["Xã", "Thị trấn"])]
    units = units.assign(town=units.loai_xa != "Xã").sort_values(["town", "ma_xa"]).head(communes)
    records = units.to_dict("records")
    shutil.rmtree(data, ignore_errors=True)
    for part in ("xlsx", "zip", "csv"):
        (data / part).mkdir(parents=True)
    started = time.perf_counter()
    chunks = [records[i::2] for i in range(2)]
    with ProcessPoolExecutor(2) as pool:
        written = sum(pool.map(_write_workbooks, chunks, [str(data / "xlsx")] * 2, [1, 2]))
    rng = random.Random(3)
    by_district: dict[str, list] = {}
    for unit in records:  # the same content as the workbooks would carry, drawn again: same shape and size
        by_district.setdefault(unit["ma_huyen"], []).append(_submission(unit, rng))
    for district, submissions in by_district.items():
        bundle = data / "zip" / f"huyen_{district}_{MONTH}.zip"
        bundle.write_bytes(bundle_bytes(submissions))
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(data / "csv" / district)
    print(f"prepared {written} workbooks and {len(by_district)} bundles in {time.perf_counter() - started:.0f} s "
          f"under {data}", file=sys.stderr)
    (data / "done").write_text("ok")
    return data


# --- measurements (each in its own process) ---------------------------------------------------------

def measure_ours(data: Path, form: str) -> dict:
    started = time.perf_counter()
    import duckdb

    import pipelines.ingest.store as store
    from pipelines.quality.expectations import SuitesProcess
    from pipelines.settings import HomePaths
    startup = time.perf_counter() - started

    home = HomePaths(Path(tempfile.mkdtemp(prefix="ntm_bench_home_"))).ensure()
    for source in sorted((data / form).iterdir()):
        os.link(source, home.landing / source.name)  # same file system: moves stay renames
    stages = {"parse_s": 0.0, "great_expectations_s": 0.0}
    parse_files = store.worker.parse_files

    def timed_parse(files, limits=None, workers=None):  # in the thread that parses ahead of the loads
        t = time.perf_counter()
        try:
            return parse_files(files, limits, workers)
        finally:
            stages["parse_s"] += time.perf_counter() - t

    store.worker.parse_files = timed_parse
    # The reference the run's ingest reads (the `ref` assets keep it in the warehouse between runs).
    from pipelines.reference import admin_units as units
    from pipelines.reference.roster import load_roster

    with duckdb.connect(str(home.warehouse)) as conn:
        conn.execute("create schema if not exists ref")
        conn.register("units", units.admin_units())
        conn.execute("create table ref.admin_units as select * from units")
        load_roster(conn, home.roster_file)
    t = time.perf_counter()
    # As the ingest asset does: the suites' process starts (and imports Great Expectations) first.
    with SuitesProcess() as suites, duckdb.connect(str(home.warehouse)) as conn:
        def timed_expectations(parsed_files, tables):
            started_suites = time.perf_counter()
            suites(parsed_files, tables)
            stages["great_expectations_s"] += time.perf_counter() - started_suites

        result = store.ingest_landing(home, conn, validate_batch=timed_expectations)
    stages["suites"] = [r.as_dict() for r in suites.results]
    work = time.perf_counter() - t
    shutil.rmtree(home.home)
    rows = sum(v for k, v in result.rows.items() if k != "files")
    failed = [s["suite"] for s in stages.pop("suites", []) if not s["success"]]
    return {"startup_s": startup, "work_s": work, "files": len(result.accepted) + len(result.rejected),
            "rejected": len(result.rejected), "rows": rows, "failed_suites": failed,
            **{k: round(v, 2) for k, v in stages.items()}, **_peak_mib()}


def bare_read_workbooks(paths) -> int:
    """The floor for workbooks: every sheet of each read by calamine, no rules. Returns the rows."""
    import io

    from python_calamine import CalamineWorkbook

    rows = 0
    for path in paths:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
        for name in workbook.sheet_names:
            rows += len(workbook.get_sheet_by_name(name).to_python(skip_empty_area=False))
    return rows


def bare_read_csvs(paths) -> int:
    """The floor for the bundles' CSVs (extracted): each read by Arrow's CSV reader, every column as
    text, no rules. Returns the rows. (DuckDB's `read_csv(union_by_name = true)` over them all, the
    floor until 2026-11-23, sniffs every file's columns: 95 s for a national history, slower than
    the ingest with its rules, so no floor.)"""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    rows = 0
    for path in paths:
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8-sig").strip().split(",")
        rows += pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header})).num_rows
    return rows


def _measure_bare(reader: str, read, paths: list[Path], files: int) -> dict:
    """`read(paths)` timed, the reader's import apart (start-up)."""
    import importlib

    started = time.perf_counter()
    importlib.import_module(reader)
    startup, started = time.perf_counter() - started, time.perf_counter()
    rows = read(paths)
    return {"startup_s": startup, "work_s": time.perf_counter() - started, "files": files, "rows": rows,
            **_peak_mib()}


def measure_bare_xlsx(data: Path) -> dict:
    paths = sorted((data / "xlsx").iterdir())
    return _measure_bare("python_calamine", bare_read_workbooks, paths, len(paths))


def measure_bare_csv(data: Path) -> dict:
    return _measure_bare("pyarrow.csv", bare_read_csvs, sorted((data / "csv").glob("*/*.csv")),
                         len(list((data / "zip").iterdir())))


def measure_pandas(data: Path) -> dict:
    started = time.perf_counter()
    import pandas as pd
    startup = time.perf_counter() - started
    t, rows, files = time.perf_counter(), 0, 0
    for path in sorted((data / "xlsx").iterdir()):
        rows += sum(len(frame) for frame in pd.read_excel(path, sheet_name=None, dtype=str).values())
        files += 1
    return {"startup_s": startup, "work_s": time.perf_counter() - t, "files": files, "rows": rows, **_peak_mib()}


SCENARIOS = {
    "ours_xlsx": lambda d: measure_ours(d, "xlsx"),
    "bare_xlsx": measure_bare_xlsx,
    "pandas_xlsx": measure_pandas,
    "ours_csv": lambda d: measure_ours(d, "zip"),
    "bare_csv": measure_bare_csv,
}


def run_scenario(name: str, data: Path) -> dict:
    """One measurement in a fresh interpreter; wall time includes the interpreter's own start."""
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, __file__, "--scenario", name, "--data", str(data)],
                               capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if completed.returncode:
        raise SystemExit(f"{name} failed:\n{completed.stderr[-3000:]}")
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["wall_s"] = wall
    figures["rows_per_s"] = figures["rows"] / figures["work_s"] if figures["work_s"] else 0
    return figures


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPU ({model}), Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communes", type=int, default=8000)
    parser.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "ntm_bench"))
    parser.add_argument("--skip-pandas", action="store_true", help="skip the slow pandas.read_excel reference")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(SCENARIOS[args.scenario](Path(args.data))))
        return

    data = prepare(Path(args.cache), args.communes)
    print(f"machine: {machine()}; workers: {os.environ.get('NTM_INGEST_WORKERS', 'default (min(2, nproc))')}")
    results = {}
    for name in SCENARIOS:
        if name == "pandas_xlsx" and args.skip_pandas:
            continue
        results[name] = run_scenario(name, data)
        r = results[name]
        extra = {k: r[k] for k in ("parse_s", "great_expectations_s", "rejected", "failed_suites") if k in r}
        print(f"{name:12s} files {r['files']:5d}  rows {r['rows']:7d}  wall {r['wall_s']:6.2f} s  "
              f"start-up {r['startup_s']:5.2f} s  work {r['work_s']:6.2f} s  {r['rows_per_s']:9.0f} rows/s  "
              f"peak {r['peak_total_mib']:6.0f} MiB  {extra if extra else ''}")
    ours, bare = results["ours_xlsx"], results["bare_xlsx"]
    print(f"xlsx: ours end to end {ours['wall_s']:.1f} s (target ≤ 20); "
          f"ours/bare work {ours['work_s'] / bare['work_s']:.1f}x (target ≤ 5)")
    if "pandas_xlsx" in results:
        pandas = results["pandas_xlsx"]
        print(f"xlsx: pandas/ours end to end {pandas['wall_s'] / ours['wall_s']:.1f}x (target ≥ 3), "
              f"work only {pandas['work_s'] / ours['work_s']:.1f}x")
    csv_ours, csv_bare = results["ours_csv"], results["bare_csv"]
    print(f"csv: ours end to end {csv_ours['wall_s']:.1f} s (target ≤ 10); "
          f"ours/bare work {csv_ours['work_s'] / csv_bare['work_s']:.1f}x")
    peak = max(r["peak_total_mib"] for r in results.values())
    print(f"peak memory (parent + largest worker) {peak:.0f} MiB (target ≤ 2048)")


if __name__ == "__main__":
    main()
