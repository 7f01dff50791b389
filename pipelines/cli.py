"""The `ntm` command (contract §4): a thin front door over the Dagster definitions.

`ntm run` and `ntm demo` execute the same asset graph the UI shows, in-process. Heavy imports
(Dagster, dbt, Great Expectations) happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import getpass
import json
import os
import shutil
import sys
from pathlib import Path

from pipelines.settings import SAMPLES_DIR, HomePaths, default_home

EXIT_OK, EXIT_FAILURE, EXIT_WITHHELD, EXIT_BUSY = 0, 1, 2, 3


def _home(args) -> HomePaths:
    return HomePaths(Path(args.home).resolve() if args.home else default_home())


def _busy(command: str, error) -> int:
    """Another process writes the home: one line naming it, nothing changed (contract §4)."""
    print(f"ntm {command}: {error}", file=sys.stderr)
    return EXIT_BUSY


def run_pipeline(paths: HomePaths, verbose: bool = False, months: tuple[str, str] | None = None,
                 full: bool = False) -> int:
    """Materialise the whole asset graph in-process. 0 published, 2 withheld by error issues, 1 failure,
    3 another process holds the home (nothing done).

    The monthly facts and marts rebuild the months changed since the last build (lib/months.py);
    `full` rebuilds every month, and `months` (first, last as YYYY-MM) exactly those months."""
    from pipelines.lock import HomeBusy, home_lock

    try:
        # Taken before Dagster is imported, so a second writer is told within a moment.
        with home_lock(paths.home):
            return _run_locked(paths, verbose, months, full)
    except HomeBusy as error:
        return _busy("run", error)


def _run_locked(paths: HomePaths, verbose: bool, months: tuple[str, str] | None, full: bool) -> int:
    from pipelines.quality.expectations import release_warm, warm_up

    # Anything in landing/ (the ingest lists it properly): Great Expectations imports on the other
    # core while Dagster loads. A process no ingest takes is closed below.
    with os.scandir(paths.ensure().landing) as entries:
        if any(entries):
            warm_up()
    try:
        return _execute(paths, verbose, months, full)
    finally:
        release_warm()


def _execute(paths: HomePaths, verbose: bool, months: tuple[str, str] | None, full: bool) -> int:
    import dagster as dg

    from pipelines.definitions import PIPELINE_JOB, build_definitions
    from pipelines.lib.dbt import changed_months_tags, full_build_tags, month_range_tags

    job = build_definitions(paths.home).resolve_job_def(PIPELINE_JOB)
    instance = dg.DagsterInstance.get() if _dagster_home_set() else dg.DagsterInstance.ephemeral()
    log_level = "INFO" if verbose else "WARNING"
    with _long_lived_heap():
        result = job.execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
            tags=month_range_tags(*months) if months else full_build_tags() if full else changed_months_tags(),
        )
    materialized = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    published = dg.AssetKey("published_warehouse") in materialized
    gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_open_errors"]
    withheld = any(not e.passed for e in gate)
    _print_outcome(paths, result.run_id, published, withheld, result.success)
    if published:
        return EXIT_OK
    if withheld:
        return EXIT_WITHHELD
    return EXIT_FAILURE


@contextlib.contextmanager
def _long_lived_heap():
    """The modules, the definitions and dbt's parse live as long as the run: the garbage collector
    leaves them out of its passes (`gc.freeze`), which otherwise scan them again and again (seconds of
    a national run). Collectable again afterwards, DuckDB's objects among them (one still frozen at
    exit is reported leaked)."""
    from pipelines.lib.dbt import parses_live_for_the_run

    gc.freeze()
    try:
        with parses_live_for_the_run():
            yield
    finally:
        gc.unfreeze()


def _dagster_home_set() -> bool:
    return bool(os.environ.get("DAGSTER_HOME"))


def _print_outcome(paths: HomePaths, run_id: str, published: bool, withheld: bool, success: bool) -> None:
    latest = {}
    if (paths.reports / "latest.json").exists():
        latest = json.loads((paths.reports / "latest.json").read_text("utf-8"))
    if latest.get("run_id") == run_id:  # a run that failed before its audit wrote no report of its own
        summary = latest["summary"]
        print(f"quality: {summary['open_errors']} open error(s), {summary['open_warnings']} warning(s), "
              f"{summary['waived']} waived; claims matching {summary['claims_matching']}/{summary['claims']}")
        print(f"report: {(paths.reports / 'latest.html').resolve()}")
    if published:
        print(f"published: {paths.published_db}")
    elif withheld:
        print("publication withheld: open error issues (see the report; `ntm waive ISSUE --reason ...`)")
    elif not success:
        print("run failed: see the log above", file=sys.stderr)


def cmd_run(args) -> int:
    return run_pipeline(_home(args), verbose=args.verbose, full=args.full)


def cmd_demo(args) -> int:
    """Copy the tracked sample (roster, submissions, claims) into the home and run the pipeline."""
    from pipelines.lock import HomeBusy, home_lock

    paths = _home(args)
    try:
        with home_lock(paths.home):  # held from the copy to the end of the run
            return _demo(paths.ensure(), args.verbose)
    except HomeBusy as error:
        return _busy("demo", error)


def _demo(paths: HomePaths, verbose: bool) -> int:
    if not (SAMPLES_DIR / "landing").exists():
        from pipelines.samples import build_demo_sample

        build_demo_sample(SAMPLES_DIR)
    for source in sorted((SAMPLES_DIR / "landing").iterdir()):
        shutil.copy2(source, paths.landing / source.name)
    shutil.copy2(SAMPLES_DIR / "reference" / "roster.csv", paths.roster_file)
    print(f"demo home: {paths.home}")
    return run_pipeline(paths, verbose=verbose)


def cmd_validate(args) -> int:
    from pipelines.ingest.validate import validate_file

    problems = validate_file(Path(args.file), _home(args))
    for problem in problems:
        print(problem.describe())
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{args.file}: {errors} lỗi (errors), {warnings} cảnh báo (warnings)")
    return EXIT_FAILURE if errors else EXIT_OK


def cmd_template(args) -> int:
    from pipelines.ingest.template import TemplateError, write_template

    try:
        target = write_template(args.ma_xa, args.ky, Path(args.output), _home(args))
    except TemplateError as error:
        print(f"ntm template: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"template: {target}")
    return EXIT_OK


def cmd_waive(args) -> int:
    import datetime as dt

    import duckdb

    from pipelines.lock import HomeBusy, home_lock
    from pipelines.quality.issues import UnknownIssue, waive

    paths = _home(args)
    try:
        until = dt.date.fromisoformat(args.until) if args.until else None
    except ValueError:
        print(f"ntm waive: --until {args.until!r} is not a date YYYY-MM-DD", file=sys.stderr)
        return EXIT_FAILURE
    try:
        with home_lock(paths.home), duckdb.connect(str(paths.warehouse)) as conn:
            waive(conn, args.issue, args.reason, args.by or getpass.getuser(), until=until)
    except HomeBusy as error:
        return _busy("waive", error)
    except (UnknownIssue, ValueError) as error:
        print(f"ntm waive: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"waived {args.issue}" + (f" until {until}" if until else "") + ": it no longer blocks publication while "
          "its values stay as they are (next `ntm run` publishes if nothing else does)")
    return EXIT_OK


def cmd_generate(args) -> int:
    """Synthetic history (communes × months) as CSV bundles in landing/, with a roster (and claims)."""
    from pipelines.generate import generate_history

    paths = _home(args).ensure()
    provinces = [p.strip().zfill(2) for p in args.provinces.split(",")] if args.provinces else None
    counts = generate_history(paths.home, communes=args.communes, months=args.months,
                              first_month=args.first_month, seed=args.seed, provinces=provinces,
                              claims=args.claims or args.planted_mismatch > 0, planted_mismatch=args.planted_mismatch,
                              missing_rate=args.missing_rate, silent=args.silent)
    print(f"generated {counts['submissions']} submissions ({counts['communes']} communes × {counts['months']} "
          f"months) in {counts['files']} files under {paths.landing}")
    if "claims" in counts:
        print(f"claims: {counts['claims']}, of which {len(counts['planted'])} planted one off:")
        for claim in counts["planted"]:
            print(f"  {claim['cap']} {claim['ma_don_vi']} {claim['tu_thang']}..{claim['den_thang']} "
                  f"{claim['chi_so']} = {claim['gia_tri']}")
    return EXIT_OK


def cmd_report(args) -> int:
    import duckdb

    from pipelines.publish.report import build_report, write_report

    paths = _home(args)
    if not paths.warehouse.exists():
        print(f"ntm report: no warehouse in {paths.home} yet (run `ntm run` first)", file=sys.stderr)
        return EXIT_FAILURE
    try:  # never waits for a run: DuckDB refuses at once while another process writes the file
        conn = duckdb.connect(str(paths.warehouse), read_only=True)
    except duckdb.IOException:
        from pipelines.lock import describe_holder, holder_alive

        print(f"ntm report: the warehouse is being written by {describe_holder(holder_alive(paths.home) or {})}; "
              f"the last report is {paths.reports / 'latest.html'}", file=sys.stderr)
        return EXIT_BUSY
    with conn:
        if not conn.execute("select count(*) from information_schema.tables where table_schema = 'main' "
                            "and table_name = 'quality_issues'").fetchone()[0]:
            print("ntm report: the warehouse has not been audited yet (run `ntm run` first)", file=sys.stderr)
            return EXIT_FAILURE
        page = write_report(paths, build_report(conn, args.run_id))
    print(f"report: {page}")
    print(f"data: {page.with_suffix('.json')}")
    return EXIT_OK


def cmd_progress(args) -> int:
    """The progress report of one unit and range, from the published warehouse (contract §6)."""
    from pipelines.lib.resources import NtmSettings
    from pipelines.publish.progress import ReportError, write_progress_report

    try:
        result = write_progress_report(_home(args), args.cap, args.ma_don_vi or "", args.tu, args.den,
                                       Path(args.output) if args.output else None, NtmSettings().band_edges)
    except ReportError as error:
        print(f"ntm progress: {error}", file=sys.stderr)
        return EXIT_FAILURE
    for path in result["files"].values():
        print(f"progress: {path}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ntm", description="NTM/OCOP monitoring warehouse")
    parser.add_argument("--home", help="home directory (default $NTM_HOME, else ./data)")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="ingest landing/, build, check, publish if no open error issue")
    run.add_argument("-v", "--verbose", action="store_true", help="show the Dagster log")
    run.add_argument("--full", action="store_true",
                     help="rebuild every month (by default only the months new or superseding files change)")
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="create the sample in the home and run the whole pipeline")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the Dagster log")
    demo.set_defaults(func=cmd_demo)

    validate = commands.add_parser("validate", help="check one submission or claims file without loading it")
    validate.add_argument("file")
    validate.set_defaults(func=cmd_validate)

    template = commands.add_parser("template", help="write a pre-filled blank Excel report for one commune and period")
    template.add_argument("--ma-xa", required=True, help="5-digit commune code")
    template.add_argument("--ky", required=True, help="period: YYYY-MM, YYYY-Qn, YYYY-H1, YYYY-H2 or YYYY")
    template.add_argument("-o", "--output", required=True, help="the .xlsx file to write")
    template.set_defaults(func=cmd_template)

    waive = commands.add_parser("waive", help="let an open issue pass, recording who, when and why")
    waive.add_argument("issue", help="issue_id from quality_issues or the report")
    waive.add_argument("--reason", required=True)
    waive.add_argument("--by", help="who waives (default: the current user)")
    waive.add_argument("--until", help="last day the waiver holds, YYYY-MM-DD (default: no end)")
    waive.set_defaults(func=cmd_waive)

    report = commands.add_parser("report", help="write the quality report of the working warehouse")
    report.add_argument("--run-id", default="manual")
    report.set_defaults(func=cmd_report)

    progress = commands.add_parser("progress", help="write the progress report of one unit and range (html, xlsx, md)")
    progress.add_argument("--cap", required=True, choices=["huyen", "tinh", "toan_quoc"])
    progress.add_argument("--ma-don-vi", default="", help="district or province code (ignored for toan_quoc)")
    progress.add_argument("--tu", required=True, help="first month, YYYY-MM")
    progress.add_argument("--den", required=True, help="last month, YYYY-MM (stocks as of its end)")
    progress.add_argument("-o", "--output", help="folder (default <home>/reports/tien_do/)")
    progress.set_defaults(func=cmd_progress)

    generate = commands.add_parser("generate", help="write synthetic national history into landing/ (benchmarks)")
    generate.add_argument("--communes", type=int, default=8000)
    generate.add_argument("--months", type=int, default=60)
    generate.add_argument("--first-month", default="2020-07", help="YYYY-MM (default 2020-07: 60 months end June 2025)")
    generate.add_argument("--seed", type=int, default=2025)
    generate.add_argument("--provinces", help="2025 province codes, comma-separated (default: communes of every province)")
    generate.add_argument("--claims", action="store_true", help="also write the headline numbers they imply (chi_so_tong_hop.csv)")
    generate.add_argument("--planted-mismatch", type=int, default=0, metavar="N", help="state N of those claims one off")
    generate.add_argument("--missing-rate", type=float, default=0.0, help="share of monthly reports never sent")
    generate.add_argument("--silent", type=int, default=0, metavar="N",
                          help="N 2025 communes send nothing from July to December 2025")
    generate.set_defaults(func=cmd_generate)

    for command in (run, demo, validate, template, waive, report, progress, generate):  # `ntm run --home X` as well as `ntm --home X run`
        command.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    finished = None
    if argv is None and args.func in (cmd_run, cmd_demo):  # the console script, not a caller in Python
        finished = _skip_teardown_at_exit()
    code = args.func(args)
    if finished is not None:
        finished(code)
    return code


def _skip_teardown_at_exit():
    """End the process once the exit handlers registered after this one have run (the parsing
    workers', the suites' process, multiprocessing's: they run in reverse order, so this one runs
    last), without the interpreter's teardown. Freeing a national run's heap object by object takes
    about 2 s; the system takes the memory back at once. By then the run has committed, published
    and closed its databases. Returns the function that records the exit code; after an exception
    (none recorded) the exit is the usual one."""
    import atexit

    code: list[int] = []

    def finish() -> None:
        if not code:
            return
        import logging

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code[0])

    atexit.register(finish)
    return code.append


if __name__ == "__main__":
    sys.exit(main())
