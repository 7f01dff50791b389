"""End to end through the front door: `ntm run` on a national history, then one national month.

    .venv/bin/python benchmarks/e2e.py [--communes 8000] [--months 60] [--cache /tmp/ntm_bench_e2e]
    .venv/bin/python benchmarks/e2e.py --only month   # the month again, into the last history's home

Prints figures (not a test). Two scenarios, each timed as a user sees it:
  history  `ntm generate` output (CSV bundles, a roster) in landing/, then `ntm run` on a new home
  month    one national month (2025-05) as one xlsx per roster commune (benchmarks/ingest.py's
           workbooks) re-sent into that home, then `ntm run` again
For each: wall time of the `ntm run` process, the peak resident memory of its whole process tree
(parse workers, the Great Expectations process; sampled every 0.1 s from /proc) and the processes
that made it up at that moment (`peak_mib_by_process`), its exit status,
and beside it the floor for the same work measured in the same session: a bare parse of the same
files (calamine for workbooks, Arrow's CSV reader for the bundles' CSVs) plus the SQL of every dbt
model run straight in DuckDB on a copy of the resulting warehouse (benchmarks/warehouse.py
`floor`), the month-incremental models compiled for the months the run rebuilt (its ledger,
lib/months.py). Also the time to published (`published_s`) and the floor's two parts. The runs
inherit the environment: with `DAGSTER_HOME` set they record into that instance, as a deployment's do.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NTM = str(Path(sys.executable).with_name("ntm"))


def _tree_rss_kib(root: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """Resident memory of a process and all its descendants, from /proc: (total KiB,
    {pid: (parent pid, KiB)})."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, IndexError, ValueError):
            continue
    tree, stack = {}, [(root, 0)]
    while stack:
        pid, parent = stack.pop()
        tree[pid] = (parent, rss.get(pid, 0))
        stack.extend((child, pid) for child in children.get(pid, []))
    return sum(kib for _, kib in tree.values()), tree


def _process_label(pid: int, parent: int, root: int) -> str:
    """What a process of the run's tree is: the run, the forkserver, or one of the forkserver's
    children (the parsing workers and the Great Expectations suites' process: tell them by size)."""
    if pid == root:
        return "ntm run"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "forkserver" in command:
        return "forkserver" if parent == root else "forkserver child"
    return command[:60]


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def timed_run(args: list[str], home: Path | None = None) -> dict:
    """Run a command to its end: wall seconds, peak tree RSS (MiB), exit status, last output lines,
    and, for `ntm run -v`, seconds from the start to each asset step's first log line (`steps`) and
    the peak memory from that line to the next step's ("start-up and ingest" until the ingest's line,
    which comes at its end; the dbt steps log their first line as they start). With `home`, also
    `published_s`: seconds from the start until the run published (the published manifest.json,
    written as the new copy is swapped in), before the progress reports that follow it. Also how many
    of the machine's cores were busy on average in each of those parts (`cores_busy_by_step`): the
    whole machine's, so run it on an otherwise idle one."""
    # The benchmark's own copies (the home, the landing files) go to disk first: else the run's first
    # fsync (DuckDB's first checkpoint) writes out half a gigabyte the run did not write (0.6 s).
    os.sync()
    started, started_epoch = time.perf_counter(), time.time()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, step, step_peaks, step_cpu, peak_parts = 0, "start-up and ingest", {}, {}, {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_parts
        last = _cpu_jiffies()
        while not done.is_set():
            rss, tree = _tree_rss_kib(process.pid)
            if rss > peak:  # labelled now: by the end of the run its processes are gone
                peak, peak_parts = rss, {"step": step, "processes": _by_label(tree, process.pid)}
            step_peaks[step] = max(step_peaks.get(step, 0), rss)
            now = _cpu_jiffies()
            busy, total = step_cpu.get(step, (0, 0))
            step_cpu[step] = (busy + now[0] - last[0], total + now[1] - last[1])
            last = now
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    steps, lines = {}, []
    for line in process.stdout:  # read as it comes, so each step is timed when it first speaks
        lines.append(line)
        match = _STEP.search(line)
        if match and match.group(1) not in steps:
            steps[match.group(1)] = round(time.perf_counter() - started, 1)
            step = match.group(1)
    process.wait()
    done.set()
    sampler.join()
    manifest = home / "published" / "manifest.json" if home else None
    published = (manifest.stat().st_mtime - started_epoch if manifest and manifest.exists() else None)
    return {"wall_s": round(time.perf_counter() - started, 1), "peak_tree_mib": round(peak / 1024),
            "exit": process.returncode, "steps_start_s": steps,
            "published_s": round(published, 1) if published is not None and published > 0 else None,
            "peak_mib_by_step": {name: round(kib / 1024) for name, kib in step_peaks.items()},
            # The peak's processes: which of them hold the memory when the tree is at its largest.
            "peak_mib_by_process": peak_parts,
            "cores_busy_by_step": {name: round(busy / total * (os.cpu_count() or 1), 2)
                                   for name, (busy, total) in step_cpu.items() if total},
            "tail": [line.strip() for line in lines if not _STEP.search(line)][-4:]}


def _by_label(tree: dict[int, tuple[int, int]], root: int) -> list:
    """[what, MiB] of each of the tree's processes, largest first."""
    return sorted(([_process_label(pid, parent, root), round(kib / 1024)] for pid, (parent, kib) in tree.items()),
                  key=lambda entry: -entry[1])


_STEP = re.compile(r" - ntm_pipeline - [0-9a-f-]{36} - (?:\d+ - )?([a-z_]+) - ")


def bare_parse(folder: Path) -> float:
    """Seconds to read every submission file under `folder` with no rules (benchmarks/ingest.py's
    floor: calamine for workbooks, Arrow's CSV reader for the bundles' CSVs, extracted first and
    not timed)."""
    from ingest import bare_read_csvs, bare_read_workbooks

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory() as tmp:
        for index, bundle in enumerate(p for p in files if p.suffix == ".zip"):
            with zipfile.ZipFile(bundle) as archive:
                archive.extractall(Path(tmp) / str(index))
        started = time.perf_counter()
        bare_read_workbooks([p for p in files if p.suffix == ".xlsx"])
        bare_read_csvs(sorted(Path(tmp).rglob("*.csv")))
        return time.perf_counter() - started


def last_window(home: Path) -> tuple[tuple[str, str] | None, str | None]:
    """The months the last `ntm run` rebuilt (lib/months.py's ledger), None for every month, and
    the month its intermediate models by period rebuilt from (None: all of them)."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
        first, last, from_month = conn.execute("select min_month, max_month, from_month from audit.monthly_builds "
                                               "order by built_at desc limit 1").fetchone()
    return ((first, last) if first else None), from_month


def sql_floor(home: Path, window: tuple[str, str] | None, from_month: str | None = None) -> float:
    """Every dbt model's compiled SQL straight in DuckDB, in dbt's order, on a copy of the warehouse;
    the month-incremental models compiled for `window`, the months the run rebuilt, and the
    intermediate models by period for `from_month`. A run that rebuilt from a month left out the
    models of the unchanged seeds and reference (lib/dbt.py `unchanged_definitions`): so does the
    floor, doing the same work."""
    import duckdb

    from pipelines.lib.dbt import left_out_selector, run_dbt, unchanged_definitions
    from warehouse import built_models, floor

    target = home / ".bench-floor-target"
    environment = {"NTM_MIN_MONTH": window[0] if window else None, "NTM_MAX_MONTH": window[1] if window else None,
                   "NTM_FROM_MONTH": from_month}
    left_out = []
    if from_month is not None:
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as conn:
            left_out = unchanged_definitions(conn)
    outcome = run_dbt(["compile", "--select", "resource_type:model",
                       *(["--exclude", left_out_selector(left_out)] if left_out else [])],
                      {"warehouse_path": str(home / "warehouse.duckdb")}, target, environment)
    if not outcome.success:
        raise SystemExit(f"dbt compile failed: {outcome.exception}")
    return floor(home / "warehouse.duckdb", built_models(target), window, from_month)


def prepare_month(history: Path, folder: Path, write) -> Path:
    """One workbook per commune of the history's roster for benchmarks/ingest.py's month (2025-05,
    inside the default history, which ends June 2025): a national month re-sent into that history."""
    import csv

    if (folder / "done").exists():
        return folder / "xlsx"
    with (history / "reference" / "roster.csv").open(encoding="utf-8") as handle:
        units = [row for row in csv.DictReader(handle) if not row.get("den_thang") or row["den_thang"] >= "2025-05"]
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "xlsx").mkdir(parents=True)
    write(units, str(folder / "xlsx"), 1)
    (folder / "done").write_text("ok")
    return folder / "xlsx"


def _floor(parse_s: float, sql_s: float) -> dict:
    return {"floor_s": round(parse_s + sql_s, 1), "floor_parse_s": round(parse_s, 1), "floor_sql_s": round(sql_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--communes", type=int, default=8000)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "ntm_bench_e2e")
    parser.add_argument("--only", choices=["month"], help="the month alone, into the home the last full "
                        "benchmark left after its history (kept in the cache as history_home)")
    args = parser.parse_args()
    from ingest import _write_workbooks

    history = args.cache / f"history_{args.communes}x{args.months}"
    if not (history / "done").exists():
        shutil.rmtree(history, ignore_errors=True)
        subprocess.run([NTM, "--home", str(history), "generate", "--communes", str(args.communes),
                        "--months", str(args.months)], check=True)
        (history / "done").write_text("ok")
    month = prepare_month(history, args.cache / f"month_{args.communes}x{args.months}", _write_workbooks)
    home, loaded = args.cache / "home", args.cache / "history_home"
    shutil.rmtree(home, ignore_errors=True)
    figures = {"machine": f"{platform.node()} {os.cpu_count()} cores {platform.processor() or platform.machine()}",
               "date": time.strftime("%Y-%m-%d %H:%M"), "communes": args.communes, "months": args.months,
               # Set, the runs write their events to that instance (SQLite: about 2 s of a month's run).
               "dagster_home": bool(os.environ.get("DAGSTER_HOME"))}
    scenarios = ["month"] if args.only else ["history", "month"]
    if args.only:
        if not loaded.exists():
            raise SystemExit(f"no {loaded}: run the whole benchmark once first")
        shutil.copytree(loaded, home, symlinks=True)
    else:
        shutil.copytree(history, home, ignore=shutil.ignore_patterns("done"))
        parse_floor = bare_parse(history / "landing")
        figures["history"] = timed_run([NTM, "--home", str(home), "run", "-v"], home)
        figures["history"].update(_floor(parse_floor, sql_floor(home, None)))
        shutil.rmtree(loaded, ignore_errors=True)
        shutil.copytree(home, loaded, symlinks=True, ignore=shutil.ignore_patterns(".bench-floor-target"))

    shutil.copytree(month, home / "landing", dirs_exist_ok=True)
    parse_floor = bare_parse(month)
    figures["month"] = timed_run([NTM, "--home", str(home), "run", "-v"], home)
    window, from_month = last_window(home)
    figures["month"]["months_rebuilt"] = "..".join(window) if window else "all"
    figures["month"]["intermediate_from"] = from_month or "all"
    figures["month"].update(_floor(parse_floor, sql_floor(home, window, from_month)))
    for name in scenarios:
        entry = figures[name]
        entry["times_floor"] = round(entry["wall_s"] / entry["floor_s"], 1) if entry["floor_s"] else None
        if entry["published_s"] and entry["floor_s"]:
            entry["published_times_floor"] = round(entry["published_s"] / entry["floor_s"], 1)
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
