"""Great Expectations on each ingested chunk: one suite per raw table (`expectations/raw_<table>.json`).

A chunk is the files one transaction of the ingest loads (store.py), so each suite runs once per
chunk, not once per file (thousands of files arrive a month). An expectation on a column's values
judges each value alone, so it runs on the chunk's distinct values of that column, and a value it
finds unexpected is unexpected on every row holding it; a uniqueness expectation runs on its
columns' full rows. Either way an unexpected row becomes a problem on the file it came from (rule
`ge_<expectation>`, with sheet, row and column), so the file is quarantined like any other rejected
file and the audit reports it. An expectation that raises, or a suites process that fails, has
judged nothing: every file of the chunk it concerned gets an error (rule `ge_error`) rather than
passing unchecked. Great Expectations takes seconds to import: it is imported only inside the
suites' own process (`SuitesProcess`), never by the ingesting process, `ntm validate` or `ntm --help`.
"""

from __future__ import annotations

import functools
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
    """`validate_batch` with Great Expectations in a process of its own, for
    `ingest_landing(validate_batch=...)`.

    Started before the batch is parsed, the process imports Great Expectations (seconds of pure
    Python) while the parsing workers run, and the ingesting process never imports it at all. Each
    chunk's distinct values and key columns (`_request`) travel to it as Arrow; the expectations'
    outcomes come back and become problems on their files here (`_problems`)."""

    def __init__(self, suites: dict[str, dict] | None = None):
        context = multiprocessing.get_context("forkserver")  # the parent holds DuckDB threads: no fork
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_suites, args=(child,), name="great-expectations", daemon=True)
        self._process.start()
        child.close()
        self.suites = load_suites() if suites is None else suites
        self.results: list[SuiteResult] = []

    def __call__(self, parsed_files: list[ParsedFile], tables: dict) -> list[SuiteResult]:
        return self.submit(parsed_files, tables)()

    def submit(self, parsed_files: list[ParsedFile], tables: dict):
        """Send the chunk to the suites' process and return at once; the returned function waits for
        the verdict, adds its problems to the files and returns the results. The ingest loads the
        chunk's rows meanwhile (store.py), so the suites' seconds overlap the insert."""
        request = _request(tables, self.suites)
        if not request:  # nothing new (a rerun): no need to wait for the import
            return lambda: []
        try:
            self._conn.send((request, self.suites))
        except (EOFError, OSError):
            return lambda: self._unjudged(parsed_files, "the Great Expectations process ended before answering")
        del request

        def wait() -> list[SuiteResult]:
            try:
                outcome = self._conn.recv()
            except (EOFError, OSError):
                outcome = "the Great Expectations process ended before answering"
            if isinstance(outcome, str):
                return self._unjudged(parsed_files, outcome)
            results = _problems(parsed_files, tables, self.suites, outcome)
            self.results.extend(results)
            return results
        return wait

    @staticmethod
    def _unjudged(parsed_files: list[ParsedFile], outcome: str) -> list[SuiteResult]:
        """The suites could not judge the batch: no file of it is accepted unchecked."""
        last = outcome.strip().splitlines()[-1] if outcome.strip() else "failed"
        for parsed in parsed_files:
            parsed.problems.append(Problem(
                parsed.name, None, None, None, "ge_error",
                f"Không chạy được bộ kiểm tra Great Expectations (the expectation suites could not run: {last}); "
                "tệp chưa được kiểm tra nên không nhận (not accepted unchecked)", "error"))
        return []

    @classmethod
    def take(cls) -> "SuitesProcess":
        """The process `warm_up` started in this process, if it is still there, else a new one."""
        global _WARM
        warm, _WARM = _WARM, None
        if warm is not None and warm._process.is_alive():
            return warm
        if warm is not None:
            warm.close()
        return cls()

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


_WARM: SuitesProcess | None = None


def warm_up() -> None:
    """Start the suites' process now, for the next `SuitesProcess.take()` of this process. `ntm run`
    calls it first thing when landing/ holds anything: Great Expectations then imports (4 s of one
    core) while Dagster and the definitions load on the other, not while the parsing workers need
    both. The parsing workers' forkserver starts with it, with its preloaded readers."""
    global _WARM
    import pipelines.ingest.worker  # noqa: F401  (sets the forkserver's preload before it starts)

    if _WARM is None:
        _WARM = SuitesProcess()


def release_warm() -> None:
    """Close a process `warm_up` started that no ingest took (a run that stopped before it)."""
    global _WARM
    warm, _WARM = _WARM, None
    if warm is not None:
        warm.close()


def _serve_suites(conn) -> None:
    """The suites' process: import Great Expectations, then judge each request until the pipe closes."""
    _quiet()
    import great_expectations  # noqa: F401

    while True:
        try:
            request, suites = conn.recv()
        except EOFError:
            return
        try:
            conn.send(_judge(request, suites))
        except Exception:  # sent back as text: exceptions of Great Expectations may not pickle
            conn.send(traceback.format_exc())
        del request
        _give_back_memory()


def _give_back_memory() -> None:
    """Free a chunk's frames and hand the memory back to the system: glibc keeps freed blocks in
    the process, and a national history is a hundred chunks."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory stays with the process, reused by the next chunk
        pass


def _quiet():
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="great_expectations")


def validate_batch(parsed_files: list[ParsedFile], tables: dict,
                   suites: dict[str, dict] | None = None) -> list[SuiteResult]:
    """Run each table's suite on the batch in this process; add a problem to each file holding an
    unexpected value. `tables` are the batch's rows per raw table as the loader built them
    (`store.table_rows`: Arrow, every column of the table, plus `_file`, the row's file as an index
    into `parsed_files`)."""
    suites = load_suites() if suites is None else suites
    request = _request(tables, suites)
    if not request:
        return []
    return _problems(parsed_files, tables, suites, _judge(request, suites))


# An expectation on the values of one column judges each value alone: it is run on the column's
# distinct values, and a value it finds unexpected is unexpected on every row that holds it. The
# others (uniqueness) look at rows together and run on their columns' full rows.
_ROW_KINDS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


def _columns_of(expectation: dict) -> list[str]:
    kwargs = expectation["kwargs"]
    return [kwargs["column"]] if kwargs.get("column") else list(kwargs.get("column_list", []))


def _request(tables: dict, suites: dict[str, dict]) -> dict:
    """Per table with rows: (distinct values of each column a value expectation reads, the full rows
    of the columns a row expectation reads, rows). A column the table lacks is left out, and the
    expectation naming it raises in Great Expectations (an error, never a pass)."""
    import pyarrow as pa

    request = {}
    for table in SUITE_TABLES:
        rows = tables.get(table)
        if table not in suites or rows is None or not rows.num_rows:
            continue
        value_columns, row_columns = set(), set()
        for expectation in suites[table]["expectations"]:
            (row_columns if expectation["type"] in _ROW_KINDS else value_columns).update(_columns_of(expectation))
        present = set(rows.column_names)
        distinct = {column: rows.column(column).unique() for column in sorted(value_columns & present)}
        # Uniqueness does not change under a one-to-one coding: each value travels as its dictionary index.
        keyed = pa.table({column: rows.column(column).combine_chunks().dictionary_encode().indices
                          for column in sorted(row_columns & present)}) if row_columns & present else None
        request[table] = (distinct, keyed, rows.num_rows)
    return request


def _judge(request: dict, suites: dict[str, dict]) -> dict:
    """In the suites' process: {table: [(success, raised message, unexpected values or row indices)]},
    one entry per expectation of the suite, in order."""
    _quiet()
    import pandas as pd

    answers = {}
    for table, (distinct, keyed, _) in request.items():
        definition = suites[table]
        length = max([len(values) for values in distinct.values()] + [1])
        # Each column's distinct values, the first repeated to a common length (repeats change no verdict).
        values_frame = pd.DataFrame({column: values.to_pylist() + values[:1].to_pylist() * (length - len(values))
                                     for column, values in distinct.items()}, index=range(length))
        rows_frame = keyed.to_pandas() if keyed is not None else pd.DataFrame(index=range(0))
        outcomes = [None] * len(definition["expectations"])
        for kind, frame in (("values", values_frame), ("rows", rows_frame)):
            chosen = [(i, e) for i, e in enumerate(definition["expectations"]) if (e["type"] in _ROW_KINDS) == (kind == "rows")]
            if not chosen:
                continue
            suite, batches = _suite_and_batches(f"{table}_{kind}", f"{definition['name']}_{kind}", [e for _, e in chosen])
            batch = batches.get_batch(batch_parameters={"dataframe": frame})
            outcome = batch.validate(suite, result_format={"result_format": "COMPLETE"})
            # Results come back in Great Expectations' order, not the suite's: matched by what they are.
            by_config = {_config_key(item.expectation_config.type, item.expectation_config.kwargs): item
                         for item in outcome.results}
            for index, expectation in chosen:
                item = by_config[_config_key(expectation["type"], expectation["kwargs"])]
                raised = _raised(item.exception_info)
                found = [] if item.success or raised else [
                    i if not isinstance(i, dict) else i["index"] for i in (item.result or {}).get("unexpected_index_list") or []]
                if kind == "values" and found:
                    column = _columns_of(expectation)[0]
                    found = sorted({_plain(v) for v in frame.loc[found, column]}, key=lambda v: (v is None, str(v)))
                outcomes[index] = (bool(item.success), raised, found)
        answers[table] = outcomes
    return answers


# In the suites' process: (asset, suite name, expectations) -> (suite, batch definition).
_PARTS: dict = {}


@functools.cache
def _data_source():
    """The process's one ephemeral context and pandas data source."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    return context.data_sources.add_pandas("ingest_batch")


def _suite_and_batches(asset: str, name: str, expectations: list[dict]):
    """The suite and a dataframe batch definition for `asset`, made once per process and reused by
    every chunk: building the context, its assets and the suite cost a third of a chunk's judging
    (Great Expectations saves its configuration at each addition). A changed suite gets its own."""
    import great_expectations as gx

    key = (asset, name, json.dumps(expectations, sort_keys=True, default=str))
    if key not in _PARTS:
        batches = _data_source().add_dataframe_asset(name=f"{asset}_{len(_PARTS)}").add_batch_definition_whole_dataframe(
            "batch")
        _PARTS[key] = (gx.ExpectationSuite(name=name, expectations=expectations), batches)
    return _PARTS[key]


def _config_key(kind: str, kwargs) -> str:
    return kind + json.dumps({k: v for k, v in dict(kwargs).items() if k in ("column", "column_list", "value_set",
                                                                          "regex", "min_value", "max_value")},
                             sort_keys=True, default=str)


def _plain(value):
    """A pandas cell as the Arrow value it came from: NaN and NaT are null, floats of an integer column whole."""
    if value is None or value != value:
        return None
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _problems(parsed_files: list[ParsedFile], tables: dict, suites: dict[str, dict], answers: dict) -> list[SuiteResult]:
    """The judged expectations as SuiteResults, and a problem on its file for each unexpected row."""
    results = []
    for table, outcomes in answers.items():
        definition, rows = suites[table], tables[table]
        unexpected, failed, errors = 0, [], []
        for expectation, (success, raised, found) in zip(definition["expectations"], outcomes):
            if success:
                continue
            failed.append(expectation["type"])
            column = ",".join(_columns_of(expectation))
            if raised:
                # An expectation that cannot run has not checked these rows: an error on every file
                # holding rows of the table, never a silent pass.
                errors.append(f"{expectation['type']}({column}): {raised}")
                unexpected += _unchecked(parsed_files, rows, expectation, column, definition["name"], raised)
                continue
            unexpected += _to_problems(parsed_files, rows, expectation, column, definition["name"], found)
        results.append(SuiteResult(
            suite=definition["name"], table=table, rows=rows.num_rows, success=not failed,
            evaluated=len(outcomes), unexpected=unexpected, failed=failed, errors=errors))
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


def _unchecked(parsed_files, rows, expectation, column, suite_name, message: str) -> int:
    """One error per file with rows in the table: the expectation raised instead of judging them."""
    indices = sorted(set(rows.column("_file").to_pylist()))
    for index in indices:
        parsed = parsed_files[index]
        parsed.problems.append(Problem(
            parsed.name, None, None, column or None, "ge_error",
            f"{suite_name}: kiểm tra {expectation['type']}({column}) không chạy được (the expectation raised: "
            f"{message}); tệp chưa được kiểm tra nên không nhận (not accepted unchecked)", "error"))
    return len(indices)


def _to_problems(parsed_files, rows, expectation, column, suite_name, found: list) -> int:
    """One problem per unexpected row, on the file the row came from, at its sheet and row: the rows
    holding an unexpected value, or the rows a row expectation named."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kwargs = expectation["kwargs"]
    if expectation["type"] in _ROW_KINDS:
        hits = rows.take(pa.array(found, pa.int64()))
    else:
        values = rows.column(kwargs["column"])
        known = pa.array([v for v in found if v is not None], values.type)
        mask = pc.fill_null(pc.is_in(values, value_set=known), False)
        if None in found:
            mask = pc.or_(mask, pc.is_null(values))
        hits = rows.filter(mask)
    severity = "warning" if str(expectation.get("severity", "critical")).lower().endswith("warning") else "error"
    rule = f"ge_{expectation['type'].removeprefix('expect_')}"
    notes = expectation.get("notes")
    detail = notes if isinstance(notes, str) and notes else _describe(expectation["type"], kwargs)
    for row in hits.to_pylist():
        parsed = parsed_files[int(row["_file"])]
        value = row.get(kwargs.get("column")) if kwargs.get("column") else None
        shown = f"'{value}'" if value is not None else "trống (empty)"
        parsed.problems.append(Problem(
            parsed.name, row.get("source_sheet"), row.get("source_row"), column, rule,
            f"{suite_name}: {column} = {shown} {detail} ({expectation['type']})", severity,
            row.get("ma_xa"), row.get("ky_bao_cao")))
    return hits.num_rows


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
