"""Raw tables and the landing → raw → archive/quarantine move.

Raw tables are append-only and hold canonical text with lineage (file, sheet, row); dbt staging
casts them. One transaction per chunk of files (landing.py): a failure part-way leaves the chunks
committed before it loaded and nothing of the rest, whose files stay in `landing/`. Files are moved
only after their chunk's commit, and a rerun finishes any move left undone. Files are parsed in
worker processes (worker.py), so no file can stop the batch; a file whose rows the database refuses
is found by loading file by file and quarantined, and the chunk loads without it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.ingest import raw_schema, receipts, worker
from pipelines.ingest.landing import (archive_path, chunks, landing_files, move_file, parsed_chunks,
                                      quarantine_path, write_reasons)
from pipelines.ingest.readers import ParsedFile
from pipelines.ingest.reference_rules import Reference, check_reference
from pipelines.lib.transaction import transaction
from pipelines.settings import HomePaths, Limits

RAW_TABLES = raw_schema.RAW_TABLES


def create_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists raw")
    for table, columns in RAW_TABLES.items():
        body = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        conn.execute(f"create table if not exists raw.{table} ({body})")
    _migrate_receipt_time(conn)


def _migrate_receipt_time(conn: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before receipt times held the file's mtime, naive local time, in arrived_at:
    it becomes time-zone aware (read in the machine's zone, as it was written) and is also kept as
    file_mtime. It stays the arrival of those files, so their supersede order does not change."""
    columns = dict(conn.execute("select column_name, data_type from information_schema.columns "
                                "where table_schema = 'raw' and table_name = 'files'").fetchall())
    if columns.get("arrived_at") == "TIMESTAMP":
        with transaction(conn):
            conn.execute("alter table raw.files add column if not exists file_mtime TIMESTAMPTZ")
            conn.execute("update raw.files set file_mtime = cast(arrived_at as TIMESTAMPTZ)")
            conn.execute("alter table raw.files alter arrived_at set data type TIMESTAMPTZ "
                         "using cast(arrived_at as TIMESTAMPTZ)")
    elif "file_mtime" not in columns:
        conn.execute("alter table raw.files add column file_mtime TIMESTAMPTZ")


def table_rows(table: str, parsed_files: list[ParsedFile]) -> pa.Table:
    """One raw table's rows across files (as the workers converted them, raw_schema.file_tables),
    plus `_file`: the row's file as an index into `parsed_files`."""
    columns = [name for name in RAW_TABLES[table] if name not in raw_schema.FILE_COLUMNS]
    parts, files, lengths = [], [], []
    for index, parsed in enumerate(parsed_files):
        found = parsed.tables.get(table)
        if found is None and parsed.rows.get(table):  # parsed in this process (tests, benchmarks)
            found = raw_schema.records_table(table, parsed.rows[table], raw_schema.FILE_COLUMNS)
        if found is not None and found.num_rows:
            parts.append(found)
            files.append(index)
            lengths.append(found.num_rows)
    if not parts:
        return raw_schema.records_table(table, [], raw_schema.FILE_COLUMNS).append_column(
            "_file", pa.array([], pa.int32()))
    # One contiguous table: a table of one Arrow chunk per file (a slice each) takes DuckDB's insert
    # and the suites' conversion fifteen times as long as the same rows in one chunk.
    rows = pa.concat_tables(parts).select(columns).combine_chunks()
    return rows.append_column("_file", pa.array(np.repeat(np.array(files, np.int32), lengths)))


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    if not rows.num_rows:
        return
    conn.register("incoming_rows", rows)
    try:
        conn.execute(f"insert into raw.{table} by name select * from incoming_rows")
    finally:
        conn.unregister("incoming_rows")


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"accepted": len(self.accepted), "rejected": len(self.rejected),
                "duplicates": len(self.duplicates), "rows": dict(self.rows)}


def ingest_landing(paths: HomePaths, conn: duckdb.DuckDBPyConnection, validate_batch=None,
                   workers: int | None = None, limits: Limits | None = None) -> IngestResult:
    """Ingest every file waiting in `landing/`, in chunks of `limits.chunk_mb` (`chunks`), so that
    memory stays bounded whatever the number of files.

    Each file is parsed in a worker (worker.py, within `limits`, default `Limits.from_env()`), then
    checked against the reference and its receipt time (reference_rules.py, as `ntm validate` does).
    `validate_batch(parsed_files, tables)` may add problems to a chunk's files before its commit (the
    Great Expectations suites, `expectations.SuitesProcess`, once per chunk, judging in their own
    process while the chunk's rows go in: `_load_chunk`); `tables` holds each raw table's rows of the
    chunk (`table_rows`). A file with any error is quarantined whole. Each chunk
    loads in one transaction and its files move after the commit: a crash part-way leaves the
    loaded chunks loaded and their files stored, the rest in `landing/` with nothing of them loaded.
    Every rule looks at one file (the suites' uniqueness too: submission ids carry their file's
    hash), so chunks give what one batch would; a file whose bytes an earlier chunk stored is a
    duplicate. `workers` parsing processes (default `worker.default_workers()`: `$NTM_INGEST_WORKERS`,
    else up to 2) share each chunk.
    """
    workers = worker.default_workers() if workers is None else workers
    limits = limits or Limits.from_env()
    create_raw_tables(conn)
    paths.archive.mkdir(parents=True, exist_ok=True)
    paths.quarantine.mkdir(parents=True, exist_ok=True)
    result = IngestResult()
    known = {sha: (status, name) for sha, status, name in
             conn.execute("select file_sha256, status, file_name from raw.files").fetchall()}
    files = landing_files(paths)
    received = receipts.record_receipts(paths, files)
    reference: list = []  # read from the warehouse once, when a chunk first needs it
    for part, parsed_files in parsed_chunks(chunks(files, limits.chunk_mb), workers, limits):
        _ingest_chunk(paths, conn, part, parsed_files, known, received, reference, validate_batch, result)
        del parsed_files
        pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed chunks otherwise
    receipts.forget_gone(paths)
    return result


def _ingest_chunk(paths, conn, files, parsed_files, known, received, reference, validate_batch, result) -> None:
    """One chunk: reference checks, the suites, one transaction, then the moves; `known` learns
    the chunk's files."""
    batch: list[tuple[Path, ParsedFile, dt.datetime]] = []
    in_batch: set[str] = set()
    copies_in_batch: list[tuple[Path, str]] = []  # the same bytes twice in this chunk: moved after the commit
    for path, parsed in zip(files, parsed_files):
        sha = parsed.sha256
        if sha in known:
            # Same bytes again: nothing changes; finish a move a crash may have left undone.
            status, name = known[sha]
            target = archive_path(paths, sha, name) if status == "accepted" else quarantine_path(paths, sha, name)
            move_file(path, target)
            result.duplicates.append(path.name)
        elif sha in in_batch:
            copies_in_batch.append((path, sha))
            result.duplicates.append(path.name)
        else:
            in_batch.add(sha)
            arrived_at = received.get(path) or receipts.now()
            if parsed.has_rows("submissions") or parsed.has_rows("claims"):
                if not reference:
                    reference.append(Reference.from_warehouse(conn, paths.roster_file))
                check_reference(parsed, reference[0], arrived_at)
            batch.append((path, parsed, arrived_at))
    readable = [(path, parsed) for path, parsed, _ in batch if not parsed.has_errors]
    tables = {table: table_rows(table, [parsed for _, parsed in readable]) for table in raw_schema.DATA_TABLES}
    verdict = _Verdict(validate_batch, [parsed for _, parsed in readable], tables)

    now = dt.datetime.now().replace(microsecond=0)
    while True:
        try:
            stored_paths, loaded = _load_chunk(conn, paths, batch, readable, tables, now, verdict)
            break
        except duckdb.Error as error:
            # Rows the database refuses (a value no cast takes, a constraint): find the files whose
            # rows fail on their own, quarantine them, and load the chunk again without them.
            verdict.wait()
            file_rows, problem_rows = _file_rows(paths, batch, now)[1:]
            failing = [i for i in _failing_files(conn, batch, file_rows, problem_rows, _data_rows(readable, tables))
                       if not batch[i][1].has_errors]
            if not failing:
                raise
            for index in failing:
                batch[index][1].problem(None, None, None, "load_failed",
                                        f"cơ sở dữ liệu không nhận các dòng của tệp (the database refused "
                                        f"the file's rows: {str(error).splitlines()[0]})")

    for (path, parsed, arrived_at), stored in zip(batch, stored_paths):
        move_file(path, stored)
        known[parsed.sha256] = ("rejected" if parsed.has_errors else "accepted", path.name)
        if parsed.has_errors:
            write_reasons(stored, parsed, arrived_at)
            result.rejected.append(path.name)
        else:
            result.accepted.append(path.name)
    stored_by_sha = {parsed.sha256: stored for (_, parsed, _), stored in zip(batch, stored_paths)}
    for path, sha in copies_in_batch:
        move_file(path, stored_by_sha[sha])
    for table, rows in loaded.items():
        result.rows[table] = result.rows.get(table, 0) + rows.num_rows


def _mtime(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, receipts.VIETNAM).replace(microsecond=0)
    except OSError:
        return None


class _Verdict:
    """The suites' verdict on a chunk (`validate_batch`), started at once and waited for once:
    `validate_batch.submit(files, tables)` when it has one (expectations.SuitesProcess: the suites
    judge in their own process while the rows go in), else `validate_batch(files, tables)` itself,
    called when waited for."""

    def __init__(self, validate_batch, parsed_files: list[ParsedFile], tables: dict):
        if validate_batch is None:
            self._wait = None
        elif hasattr(validate_batch, "submit"):
            self._wait = validate_batch.submit(parsed_files, tables)
        else:
            self._wait = lambda: validate_batch(parsed_files, tables)

    def wait(self) -> None:
        wait, self._wait = self._wait, None
        if wait is not None:
            wait()


def _file_rows(paths: HomePaths, batch, now: dt.datetime):
    """Where each file goes, and its raw.files and raw.ingest_problems rows."""
    stored_paths = [archive_path(paths, parsed.sha256, path.name) if not parsed.has_errors
                    else quarantine_path(paths, parsed.sha256, path.name) for path, parsed, _ in batch]
    file_rows, problem_rows = [], []
    for (path, parsed, arrived_at), stored in zip(batch, stored_paths):
        file_rows.append(dict(
            file_sha256=parsed.sha256, file_name=path.name, kind=parsed.kind, arrived_at=arrived_at,
            ingested_at=now, status="rejected" if parsed.has_errors else "accepted",
            stored_path=str(stored.relative_to(paths.home)), file_mtime=_mtime(path),
            n_errors=sum(p.severity == "error" for p in parsed.problems),
            n_warnings=sum(p.severity == "warning" for p in parsed.problems),
        ))
        problem_rows += [dict(file_sha256=parsed.sha256, file_name=p.file, sheet=p.sheet, row=p.row,
                              column=p.column, rule=p.rule, severity=p.severity, message=p.message,
                              ma_xa=p.ma_xa, ky_bao_cao=p.ky_bao_cao, found_at=now)
                         for p in parsed.problems]
    return stored_paths, file_rows, problem_rows


def _data_rows(readable, tables: dict) -> dict:
    """The rows of the raw tables from the files still accepted, each with its file's lineage."""
    # Rows of files rejected after parsing (suites, reference, load) are dropped.
    accepted = pa.array([not parsed.has_errors for _, parsed in readable], pa.bool_())
    shas = pa.array([parsed.sha256 for _, parsed in readable], pa.string())
    names = pa.array([path.name for path, _ in readable], pa.string())
    every_one = all(accepted.to_pylist())
    loaded = {}
    for table, rows in tables.items():
        if not every_one:
            rows = rows.filter(accepted.take(rows.column("_file")))
        if not rows.num_rows:
            continue
        # The file's hash and name by reference to the file (a dictionary column), not copied per row.
        files = rows.column("_file").combine_chunks()
        loaded[table] = rows.drop_columns("_file").append_column(
            "file_sha256", pa.DictionaryArray.from_arrays(files, shas)).append_column(
            "file_name", pa.DictionaryArray.from_arrays(files, names))
    return loaded


def _load_chunk(conn, paths: HomePaths, batch, readable, tables: dict, now: dt.datetime, verdict: _Verdict):
    """The chunk in one transaction. The rows of the files accepted so far go in while the suites
    judge them (`verdict`); the rows of a file the verdict rejects come out again before the files'
    and problems' rows go in and the transaction commits. Returns where each file goes and the rows
    loaded per table."""
    with _transaction(conn):
        loaded = _data_rows(readable, tables)
        for table, rows in loaded.items():
            _insert(conn, table, rows)
        verdict.wait()
        rejected = [parsed.sha256 for _, parsed in readable if parsed.has_errors]
        if rejected:
            for table in loaded:
                conn.execute(f"delete from raw.{table} where file_sha256 in (select unnest(?))", [rejected])
            loaded = _data_rows(readable, tables)
        stored_paths, file_rows, problem_rows = _file_rows(paths, batch, now)
        _insert_records(conn, file_rows, problem_rows)
    return stored_paths, loaded


@contextlib.contextmanager
def _transaction(conn: duckdb.DuckDBPyConnection, keep: bool = True):
    """One transaction: committed, or with `keep=False` rolled back (a trial load); rolled back on
    any error. Raw rows carry their lineage, so their order in storage means nothing: DuckDB need
    not keep it, which makes the insert of a national chunk markedly faster."""
    conn.execute("set preserve_insertion_order = false")
    try:
        with transaction(conn, keep):
            yield
    finally:
        conn.execute("reset preserve_insertion_order")


def _insert_records(conn: duckdb.DuckDBPyConnection, file_rows: list[dict], problem_rows: list[dict]) -> None:
    _insert(conn, "files", raw_schema.records_table("files", file_rows))
    _insert(conn, "ingest_problems", raw_schema.records_table("ingest_problems", problem_rows))


def _load(conn: duckdb.DuckDBPyConnection, file_rows: list[dict], problem_rows: list[dict], tables: dict,
          keep: bool = True) -> None:
    """Every row in one transaction (`_transaction`)."""
    with _transaction(conn, keep):
        for table, rows in tables.items():
            _insert(conn, table, rows)
        _insert_records(conn, file_rows, problem_rows)


def _failing_files(conn, batch, file_rows, problem_rows, tables) -> list[int]:
    """Indexes in `batch` of the files whose rows alone fail to load (each tried and rolled back)."""
    import pyarrow.compute as pc

    failing = []
    for index, (_, parsed, _) in enumerate(batch):
        sha = parsed.sha256
        mine = {table: rows.filter(pc.equal(rows.column("file_sha256").cast(pa.string()), sha))
                for table, rows in tables.items()}
        try:
            _load(conn, [r for r in file_rows if r["file_sha256"] == sha],
                  [r for r in problem_rows if r["file_sha256"] == sha], mine, keep=False)
        except duckdb.Error:
            failing.append(index)
    return failing
