"""Raw tables and the landing → raw → archive/quarantine move.

Raw tables are append-only and hold canonical text with lineage (file, sheet, row); dbt staging
casts them. One transaction per batch: a failure part-way loads nothing and leaves every file in
`landing/`. Files are moved only after the commit, and a rerun finishes any move left undone.
Files are parsed in worker processes (worker.py), so no file can stop the batch; a file whose rows
the database refuses is found by loading file by file and quarantined, and the batch loads without it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.ingest import receipts, worker
from pipelines.ingest.limits import is_temporary
from pipelines.ingest.readers import ParsedFile
from pipelines.ingest.reference_rules import Reference, check_reference
from pipelines.settings import HomePaths, Limits

_LINEAGE = {"file_sha256": "VARCHAR", "file_name": "VARCHAR", "source_sheet": "VARCHAR", "source_row": "INTEGER"}
_SUBMISSION_REF = {"submission_id": "VARCHAR", "ma_xa": "VARCHAR", "ky_bao_cao": "VARCHAR"}


def _text(*names: str) -> dict:
    return {name: "VARCHAR" for name in names}


RAW_TABLES: dict[str, dict[str, str]] = {
    "files": {
        "file_sha256": "VARCHAR PRIMARY KEY", "file_name": "VARCHAR", "kind": "VARCHAR",
        # arrived_at: when the warehouse received the file (receipts.py); file_mtime: the file's own clock
        "arrived_at": "TIMESTAMPTZ", "ingested_at": "TIMESTAMP", "status": "VARCHAR",
        "stored_path": "VARCHAR", "n_errors": "INTEGER", "n_warnings": "INTEGER", "file_mtime": "TIMESTAMPTZ",
    },
    "submissions": {
        **_SUBMISSION_REF,
        **_text("thang", "bo_tieu_chi", "ten_xa", "ma_tinh", "ngay_lap", "nguoi_lap", "phien_ban_mau"),
        **_LINEAGE,
    },
    "tieu_chi": {**_SUBMISSION_REF, **_text("tieu_chi", "trang_thai", "ghi_chu"), **_LINEAGE},
    "chi_tieu": {**_SUBMISSION_REF, **_text("ma_chi_tieu", "gia_tri", "don_vi"), **_LINEAGE},
    "ocop": {
        **_SUBMISSION_REF,
        **_text("ma_san_pham", "ten_san_pham", "nhom_san_pham", "chu_the", "loai_chu_the", "diem",
                "so_sao", "so_quyet_dinh", "ngay_quyet_dinh", "cap_danh_gia"),
        **_LINEAGE,
    },
    "tong_hop": {**_SUBMISSION_REF, **_text("truong", "gia_tri", "source_column"), **_LINEAGE},
    "claims": {
        "claim_id": "VARCHAR",
        **_text("cap", "ma_don_vi", "tu_thang", "den_thang", "chi_so", "gia_tri", "gia_tri_goc", "nguon"),
        "so_chu_so_thap_phan": "INTEGER",
        **_LINEAGE,
    },
    "ingest_problems": {
        "file_sha256": "VARCHAR", "file_name": "VARCHAR", "sheet": "VARCHAR", "row": "INTEGER",
        "column": "VARCHAR", "rule": "VARCHAR", "severity": "VARCHAR", "message": "VARCHAR",
        "ma_xa": "VARCHAR", "ky_bao_cao": "VARCHAR", "found_at": "TIMESTAMP",
    },
}


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
        conn.execute("begin transaction")
        try:
            conn.execute("alter table raw.files add column if not exists file_mtime TIMESTAMPTZ")
            conn.execute("update raw.files set file_mtime = cast(arrived_at as TIMESTAMPTZ)")
            conn.execute("alter table raw.files alter arrived_at set data type TIMESTAMPTZ "
                         "using cast(arrived_at as TIMESTAMPTZ)")
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
    elif "file_mtime" not in columns:
        conn.execute("alter table raw.files add column file_mtime TIMESTAMPTZ")


_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "TIMESTAMP": pa.timestamp("us"),
                "TIMESTAMPTZ": pa.timestamp("us", tz=str(receipts.VIETNAM))}


def _arrow_type(kind: str) -> pa.DataType:
    return _ARROW_TYPES[kind.split()[0]]


def table_rows(table: str, parsed_files: list[ParsedFile]) -> pa.Table:
    """One raw table's rows across files, typed as the table (lineage columns aside), plus `_file`:
    the row's file as an index into `parsed_files`. Built a column at a time over all rows: a frame
    made from 300,000 dicts, or column lists made file by file, cost seconds."""
    rows, files = [], []
    for index, parsed in enumerate(parsed_files):
        found = parsed.rows.get(table)
        if found:
            rows.extend(found)
            files.extend([index] * len(found))
    columns = {name: pa.array([row.get(name) for row in rows], _arrow_type(kind))
               for name, kind in RAW_TABLES[table].items() if name not in ("file_sha256", "file_name")}
    return pa.table({**columns, "_file": pa.array(files, pa.int32())})


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
    if not rows.num_rows:
        return
    conn.register("incoming_rows", rows)
    try:
        conn.execute(f"insert into raw.{table} by name select * from incoming_rows")
    finally:
        conn.unregister("incoming_rows")


def _records_table(table: str, records: list[dict]) -> pa.Table:
    return pa.table({name: pa.array([record.get(name) for record in records], _arrow_type(kind))
                     for name, kind in RAW_TABLES[table].items()})


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"accepted": len(self.accepted), "rejected": len(self.rejected),
                "duplicates": len(self.duplicates), "rows": dict(self.rows)}


def landing_files(paths: HomePaths) -> list[Path]:
    """Files waiting in landing/, without temporary and hidden ones (Excel's `~$` lock files,
    `.DS_Store`, anything under a hidden folder): `ntm validate` skips the same (limits.is_temporary)."""
    return sorted(
        p for p in paths.landing.rglob("*")
        if p.is_file() and not is_temporary(p.relative_to(paths.landing)) and not p.name.endswith(".reasons.json")
    )


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return suffix if len(suffix) <= 10 else ""


def archive_path(paths: HomePaths, sha256: str, name: str) -> Path:
    return paths.archive / f"{sha256}{_suffix(name)}"


_NAME_BYTES = 255 - len(".reasons.json")  # a file name's limit on Linux, macOS and Windows file systems


def quarantine_path(paths: HomePaths, sha256: str, name: str) -> Path:
    """`<sha12>_<name>`, the name shortened (on a character boundary, keeping its suffix) so that the
    file and its reasons file fit 255 bytes: Vietnamese titles run long. The reasons file keeps the
    whole name."""
    prefix, name = f"{sha256[:12]}_", name.replace("\0", "")
    if len((prefix + name).encode()) <= _NAME_BYTES:
        return paths.quarantine / (prefix + name)
    suffix = _suffix(name)
    room = _NAME_BYTES - len(prefix.encode()) - len(suffix.encode()) - 1
    stem = name[: len(name) - len(suffix)] if suffix else name
    stem = stem.encode()[:room].decode("utf-8", "ignore")
    return paths.quarantine / f"{prefix}{stem}~{suffix}"


def _move(source: Path, target: Path) -> None:
    """Move a received file to its stored place (the target's folder exists); the same bytes
    stored already make the source redundant."""
    if os.path.exists(target):
        os.unlink(source)
        return
    try:
        os.rename(source, target)
    except OSError:  # another file system
        shutil.move(source, target)


def _write_reasons(target: Path, parsed: ParsedFile, arrived_at: dt.datetime) -> None:
    reasons = {
        "file": parsed.name, "sha256": parsed.sha256, "arrived_at": arrived_at.isoformat(),
        "stored_as": target.name,
        "problems": [p.as_dict() for p in parsed.problems],
    }
    Path(f"{target}.reasons.json").write_text(json.dumps(reasons, ensure_ascii=False, indent=2), "utf-8")


def ingest_workers() -> int:
    """Parsing processes: `$NTM_INGEST_WORKERS`, else up to 2 (the machines this runs on are small)."""
    return worker.default_workers()


def _parse_many(files: list[Path], workers: int, limits: Limits | None = None) -> list[ParsedFile]:
    """Read and parse files in the worker pool (worker.py): workers read and hash the files
    themselves, so no file's bytes cross a pipe, and a file that crashes its reader is quarantined."""
    return worker.parse_files(files, limits or Limits.from_env(), workers)


def ingest_landing(paths: HomePaths, conn: duckdb.DuckDBPyConnection, validate_batch=None,
                   workers: int | None = None, limits: Limits | None = None) -> IngestResult:
    """Ingest every file waiting in `landing/` as one batch.

    Each file is parsed in a worker (worker.py, within `limits`, default `Limits.from_env()`), then
    checked against the reference and its receipt time (reference_rules.py, as `ntm validate` does).
    `validate_batch(parsed_files, tables)` may add problems to files before loading (the batch-level
    Great Expectations suites); `tables` holds each raw table's rows of the batch (`table_rows`). A
    file with any error is quarantined whole (`expectations.SuitesProcess` runs the suites in a
    process of its own). `workers` parsing processes (default `ingest_workers()`) share the batch.
    """
    workers = ingest_workers() if workers is None else workers
    create_raw_tables(conn)
    paths.archive.mkdir(parents=True, exist_ok=True)
    paths.quarantine.mkdir(parents=True, exist_ok=True)
    result = IngestResult()
    known = {sha: (status, name) for sha, status, name in
             conn.execute("select file_sha256, status, file_name from raw.files").fetchall()}
    files = landing_files(paths)
    received = receipts.record_receipts(paths, files)
    batch: list[tuple[Path, ParsedFile, dt.datetime]] = []
    in_batch: set[str] = set()
    copies_in_batch: list[tuple[Path, str]] = []  # the same bytes twice in this batch: moved after the commit
    parsed_files = _parse_many(files, workers, limits)
    reference = None
    for path, parsed in zip(files, parsed_files):
        sha = parsed.sha256
        if sha in known:
            # Same bytes again: nothing changes; finish a move a crash may have left undone.
            status, name = known[sha]
            target = archive_path(paths, sha, name) if status == "accepted" else quarantine_path(paths, sha, name)
            _move(path, target)
            result.duplicates.append(path.name)
        elif sha in in_batch:
            copies_in_batch.append((path, sha))
            result.duplicates.append(path.name)
        else:
            in_batch.add(sha)
            arrived_at = received.get(path) or receipts.now()
            if parsed.rows.get("submissions") or parsed.rows.get("claims"):
                reference = reference or Reference.from_warehouse(conn, paths.roster_file)
                check_reference(parsed, reference, arrived_at)
            batch.append((path, parsed, arrived_at))
    del parsed_files
    readable, tables = _batch_tables(batch)
    if validate_batch is not None:
        validate_batch([parsed for _, parsed in readable], tables)

    now = dt.datetime.now().replace(microsecond=0)
    while True:
        stored_paths, file_rows, problem_rows, loaded = _batch_rows(paths, batch, readable, tables, now)
        try:
            _load(conn, file_rows, problem_rows, loaded)
            break
        except duckdb.Error as error:
            # Rows the database refuses (a value no cast takes, a constraint): find the files whose
            # rows fail on their own, quarantine them, and load the batch again without them.
            failing = [i for i in _failing_files(conn, batch, file_rows, problem_rows, loaded)
                       if not batch[i][1].has_errors]
            if not failing:
                raise
            for index in failing:
                batch[index][1].problem(None, None, None, "load_failed",
                                        f"cơ sở dữ liệu không nhận các dòng của tệp (the database refused "
                                        f"the file's rows: {str(error).splitlines()[0]})")

    for (path, parsed, arrived_at), stored in zip(batch, stored_paths):
        _move(path, stored)
        if parsed.has_errors:
            _write_reasons(stored, parsed, arrived_at)
            result.rejected.append(path.name)
        else:
            result.accepted.append(path.name)
    stored_by_sha = {parsed.sha256: stored for (_, parsed, _), stored in zip(batch, stored_paths)}
    for path, sha in copies_in_batch:
        _move(path, stored_by_sha[sha])
    receipts.forget_gone(paths)
    result.rows = {table: rows.num_rows for table, rows in loaded.items()}
    return result


def _batch_tables(batch) -> tuple[list, dict]:
    """The readable files and their rows per raw table. Rows a reader produced that do not fit their
    column's type (a reader's bug) would fail every run: such a file gets `load_failed` instead."""
    data_tables = [table for table in RAW_TABLES if table not in ("files", "ingest_problems")]
    readable = [(path, parsed) for path, parsed, _ in batch if not parsed.has_errors]
    try:
        return readable, {table: table_rows(table, [parsed for _, parsed in readable]) for table in data_tables}
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        for _, parsed in readable:
            try:
                for table in data_tables:
                    table_rows(table, [parsed])
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as error:
                parsed.problem(None, None, None, "load_failed",
                               f"không chuyển được các dòng của tệp (the file's rows do not fit their columns: {error})")
        readable = [(path, parsed) for path, parsed in readable if not parsed.has_errors]
        return readable, {table: table_rows(table, [parsed for _, parsed in readable]) for table in data_tables}


def _mtime(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, receipts.VIETNAM).replace(microsecond=0)
    except OSError:
        return None


def _batch_rows(paths: HomePaths, batch, readable, tables: dict, now: dt.datetime):
    """Where each file goes, its raw.files and raw.ingest_problems rows, and the rows of the raw
    tables from the files still accepted, each with its file's lineage."""
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
    # Rows of files rejected after parsing (suites, reference, load) are dropped; each row then gets its file's lineage.
    accepted = pa.array([not parsed.has_errors for _, parsed in readable], pa.bool_())
    shas = pa.array([parsed.sha256 for _, parsed in readable], pa.string())
    names = pa.array([path.name for path, _ in readable], pa.string())
    loaded = {}
    for table, rows in tables.items():
        rows = rows.filter(accepted.take(rows.column("_file")))
        if not rows.num_rows:
            continue
        files = rows.column("_file")
        loaded[table] = rows.drop_columns("_file").append_column("file_sha256", shas.take(files)).append_column(
            "file_name", names.take(files))
    return stored_paths, file_rows, problem_rows, loaded


def _load(conn: duckdb.DuckDBPyConnection, file_rows: list[dict], problem_rows: list[dict], tables: dict,
          keep: bool = True) -> None:
    """Every row in one transaction: committed, or with `keep=False` rolled back (a trial load)."""
    conn.execute("begin transaction")
    try:
        _insert(conn, "files", _records_table("files", file_rows))
        _insert(conn, "ingest_problems", _records_table("ingest_problems", problem_rows))
        for table, rows in tables.items():
            _insert(conn, table, rows)
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit" if keep else "rollback")


def _failing_files(conn, batch, file_rows, problem_rows, tables) -> list[int]:
    """Indexes in `batch` of the files whose rows alone fail to load (each tried and rolled back)."""
    import pyarrow.compute as pc

    failing = []
    for index, (_, parsed, _) in enumerate(batch):
        sha = parsed.sha256
        mine = {table: rows.filter(pc.equal(rows.column("file_sha256"), sha)) for table, rows in tables.items()}
        try:
            _load(conn, [r for r in file_rows if r["file_sha256"] == sha],
                  [r for r in problem_rows if r["file_sha256"] == sha], mine, keep=False)
        except duckdb.Error:
            failing.append(index)
    return failing
