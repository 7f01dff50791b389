"""Great Expectations on each ingested batch: one suite per raw table (`expectations/raw_<table>.json`).

A batch is every file read from `landing/` in one ingestion, so each suite runs once on one pandas
DataFrame of all the batch's rows of its table, not once per file (thousands of files arrive a
month). An unexpected value becomes a problem on the file its row came from (rule
`ge_<expectation>`, with sheet, row and column), so the file is quarantined like any other
rejected file and the audit reports it. An expectation that raises, or a suites process that
fails, has judged nothing: every file of the batch it concerned gets an error (rule `ge_error`)
rather than passing unchecked. Great Expectations takes seconds to import: it is imported
only inside the suites' own process (`SuitesProcess`), never by the ingesting process, `ntm
validate` or `ntm --help`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.ingest.readers import ParsedFile, Problem
from pipelines.settings import EXPECTATIONS_DIR

SUITE_TABLES = ("submissions", "tieu_chi", "chi_tieu", "ocop", "tong_hop", "claims")
_WHERE = ("_file", "source_sheet", "source_row")  # lineage columns that locate an unexpected value


@dataclass
class SuiteResult:
    suite: str
    table: str
    rows: int
    success: bool
    evaluated: int
    unexpected: int  # unexpected values over all expectations
    failed: list[str] = field(default_factory=list)  # expectation types that failed
    errors: list[str] = field(default_factory=list)  # expectations that raised: error findings on the batch's files

    def as_dict(self) -> dict:
        return asdict(self)


def load_suites(directory: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    """Suite definitions by raw table, as stored (JSON, Great Expectations' own suite format)."""
    suites = {}
    for table in SUITE_TABLES:
        path = directory / f"raw_{table}.json"
        if path.exists():
            suites[table] = json.loads(path.read_text("utf-8"))
    return suites


class SuitesProcess:
    """`validate_batch` in a process of its own, for `ingest_landing(validate_batch=...)`.

    Started before the batch is parsed, the process imports Great Expectations (seconds of pure
    Python) while the parsing workers run, and the ingesting process never imports it at all. The
    batch's tables travel to it as Arrow; problems come back and are added to their files."""

    def __init__(self):
        context = multiprocessing.get_context("forkserver")  # the parent holds DuckDB threads: no fork
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_suites, args=(child,), name="great-expectations", daemon=True)
        self._process.start()
        child.close()
        self.results: list[SuiteResult] = []

    def __call__(self, parsed_files: list[ParsedFile], tables: dict) -> list[SuiteResult]:
        ours = {table: tables[table] for table in SUITE_TABLES if table in tables and tables[table].num_rows}
        if not ours:  # nothing new (a rerun): no need to wait for the import
            return []
        try:
            self._conn.send(([parsed.name for parsed in parsed_files], ours))
            outcome = self._conn.recv()
        except (EOFError, OSError):
            outcome = "the Great Expectations process ended before answering"
        if isinstance(outcome, str):
            # The suites could not judge the batch: no file of it is accepted unchecked.
            last = outcome.strip().splitlines()[-1] if outcome.strip() else "failed"
            for parsed in parsed_files:
                parsed.problems.append(Problem(
                    parsed.name, None, None, None, "ge_error",
                    f"Không chạy được bộ kiểm tra Great Expectations (the expectation suites could not run: {last}); "
                    "tệp chưa được kiểm tra nên không nhận (not accepted unchecked)", "error"))
            return []
        results, problems = outcome
        for index, problem in problems:
            parsed_files[index].problems.append(problem)
        self.results.extend(results)
        return results

    def close(self) -> None:
        """Close the pipe: the process then ends by itself, once its import is over if no batch
        needed it. Not killed: it would leave the semaphores its libraries made to the resource
        tracker, which complains about them at exit."""
        self._conn.close()
        self._process.join(timeout=1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _serve_suites(conn) -> None:
    """The suites' process: import Great Expectations, then validate each batch sent until the pipe closes."""
    _quiet()
    import great_expectations  # noqa: F401

    while True:
        try:
            names, tables = conn.recv()
        except EOFError:
            return
        try:
            conn.send(_validate_named_files(names, tables))
        except Exception:  # sent back as text: exceptions of Great Expectations may not pickle
            conn.send(traceback.format_exc())


def _validate_named_files(names: list[str], tables: dict) -> tuple[list[SuiteResult], list[tuple[int, Problem]]]:
    """`validate_batch` on files known by name only (in the suites' process): (results, (file index, problem))."""
    files = [ParsedFile(name=name, sha256="") for name in names]
    results = validate_batch(files, tables)
    return results, [(index, problem) for index, parsed in enumerate(files) for problem in parsed.problems]


def _quiet():
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="great_expectations")


def validate_batch(parsed_files: list[ParsedFile], tables: dict,
                   suites: dict[str, dict] | None = None) -> list[SuiteResult]:
    """Run each table's suite once on the batch; add a problem to each file holding an unexpected value.

    `tables` are the batch's rows per raw table as the loader built them (`store.table_rows`: Arrow,
    every column of the table, plus `_file`, the row's file as an index into `parsed_files`)."""
    frames = {table: tables[table].to_pandas() for table in SUITE_TABLES
              if table in tables and tables[table].num_rows}
    if not frames:
        return []
    suites = load_suites() if suites is None else suites
    _quiet()
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas("ingest_batch")
    results = []
    for table, frame in frames.items():
        definition = suites.get(table)
        if definition is None:
            continue
        suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
        batch = source.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe("batch").get_batch(
            batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        unexpected, failed, errors = 0, [], []
        for item in outcome.results:
            config = item.expectation_config
            if item.success:
                continue
            failed.append(config.type)
            if _raised(item.exception_info):
                # An expectation that cannot run has not checked these rows: an error on every file
                # holding rows of the table, never a silent pass.
                errors.append(f"{config.type}({config.kwargs.get('column')}): {_raised(item.exception_info)}")
                unexpected += _unchecked(parsed_files, frame, config, definition["name"], _raised(item.exception_info))
                continue
            unexpected += _to_problems(parsed_files, frame, item, config, definition["name"])
        results.append(SuiteResult(
            suite=definition["name"], table=table, rows=len(frame), success=outcome.success,
            evaluated=len(outcome.results), unexpected=unexpected, failed=failed, errors=errors))
    return results


def _raised(exception_info) -> str | None:
    """The message of an exception an expectation raised, if any (the info may be nested by metric)."""
    if not exception_info:
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or "raised")
    return None


def _unchecked(parsed_files, frame, config, suite_name, message: str) -> int:
    """One error per file with rows in the frame: the expectation raised instead of judging them."""
    column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list", []))
    indices = sorted({int(i) for i in frame["_file"].unique()})
    for index in indices:
        parsed = parsed_files[index]
        parsed.problems.append(Problem(
            parsed.name, None, None, column or None, "ge_error",
            f"{suite_name}: kiểm tra {config.type}({column}) không chạy được (the expectation raised: {message}); "
            "tệp chưa được kiểm tra nên không nhận (not accepted unchecked)", "error"))
    return len(indices)


def _to_problems(parsed_files, frame, item, config, suite_name) -> int:
    """One problem per unexpected row, on the file the row came from, at its sheet and row."""
    kwargs = config.kwargs
    column = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
    severity = "warning" if str(getattr(config, "severity", "critical")).lower().endswith("warning") else "error"
    rule = f"ge_{config.type.removeprefix('expect_')}"
    indices = (item.result or {}).get("unexpected_index_list") or []
    rows = frame.loc[[i if not isinstance(i, dict) else i["index"] for i in indices]]
    for _, row in rows.iterrows():
        parsed = parsed_files[int(row["_file"])]
        value = row.get(kwargs.get("column")) if kwargs.get("column") else None
        shown = f"'{value}'" if value is not None and value == value else "trống (empty)"
        detail = config.notes if isinstance(config.notes, str) and config.notes else _describe(config.type, kwargs)
        parsed.problems.append(Problem(
            parsed.name, row["source_sheet"], int(row["source_row"]), column, rule,
            f"{suite_name}: {column} = {shown} {detail} ({config.type})", severity,
            row.get("ma_xa"), row.get("ky_bao_cao")))
    return len(rows)


def _describe(kind: str, kwargs: dict) -> str:
    if "value_set" in kwargs:
        return "không thuộc " + ", ".join(map(str, kwargs["value_set"]))
    if "regex" in kwargs:
        return f"không đúng dạng {kwargs['regex']}"
    if "min_value" in kwargs or "max_value" in kwargs:
        return f"ngoài khoảng {kwargs.get('min_value')}..{kwargs.get('max_value')}"
    if "unique" in kind:
        return "lặp lại (repeated)"
    if "null" in kind:
        return "thiếu (missing)"
    return "không đạt kỳ vọng (unexpected)"
