"""Raw tables and the landing → raw → archive/quarantine move.

Raw tables are append-only and hold canonical text with lineage (file, sheet, row); dbt staging
casts them. One transaction per batch: a failure part-way loads nothing and leaves every file in
`landing/`. Files are moved only after the commit, and a rerun finishes any move left undone.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd

from pipelines.ingest.readers import ParsedFile, parse_item, sha256_of

if TYPE_CHECKING:  # pipelines.settings imports Dagster (seconds); ingestion itself does not need it
    from pipelines.settings import HomePaths

_LINEAGE = {"file_sha256": "VARCHAR", "file_name": "VARCHAR", "source_sheet": "VARCHAR", "source_row": "INTEGER"}
_SUBMISSION_REF = {"submission_id": "VARCHAR", "ma_xa": "VARCHAR", "ky_bao_cao": "VARCHAR"}


def _text(*names: str) -> dict:
    return {name: "VARCHAR" for name in names}


RAW_TABLES: dict[str, dict[str, str]] = {
    "files": {
        "file_sha256": "VARCHAR PRIMARY KEY", "file_name": "VARCHAR", "kind": "VARCHAR",
        "arrived_at": "TIMESTAMP", "ingested_at": "TIMESTAMP", "status": "VARCHAR",
        "stored_path": "VARCHAR", "n_errors": "INTEGER", "n_warnings": "INTEGER",
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


def _insert(conn: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    columns = RAW_TABLES[table]
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for name, kind in columns.items():  # an all-None column must still bind to the table's type
        if kind.startswith("VARCHAR"):
            frame[name] = frame[name].astype("string")
    conn.register("incoming_rows", frame)
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


def landing_files(paths: HomePaths) -> list[Path]:
    return sorted(
        p for p in paths.landing.rglob("*")
        if p.is_file() and not p.name.startswith((".", "~$")) and not p.name.endswith(".reasons.json")
    )


def archive_path(paths: HomePaths, sha256: str, name: str) -> Path:
    return paths.archive / f"{sha256}{Path(name).suffix.lower()}"


def quarantine_path(paths: HomePaths, sha256: str, name: str) -> Path:
    return paths.quarantine / f"{sha256[:12]}_{name}"


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        source.unlink()
    else:
        shutil.move(str(source), str(target))


def _write_reasons(target: Path, parsed: ParsedFile, arrived_at: dt.datetime) -> None:
    reasons = {
        "file": parsed.name, "sha256": parsed.sha256, "arrived_at": arrived_at.isoformat(),
        "problems": [p.as_dict() for p in parsed.problems],
    }
    Path(f"{target}.reasons.json").write_text(json.dumps(reasons, ensure_ascii=False, indent=2), "utf-8")


PARALLEL_FROM = 200  # below this many files a worker pool costs more than it saves


def ingest_workers() -> int:
    """Parsing processes: `$NTM_INGEST_WORKERS`, else up to 2 (the machines this runs on are small)."""
    configured = os.environ.get("NTM_INGEST_WORKERS")
    return max(1, int(configured)) if configured else min(2, os.cpu_count() or 1)


def _parse_many(files: list[tuple[Path, bytes, dt.datetime]], workers: int) -> list[ParsedFile]:
    """Parse files, in a process pool when the batch is large (a national month is ~8,000 files).

    Parsing is pure Python per cell, so threads would not help; forkserver rather than fork, because
    the parent holds a DuckDB connection whose threads must not be copied into children."""
    items = [(path.name, data) for path, data, _ in files]
    if workers <= 1 or len(items) < PARALLEL_FROM:
        return [parse_item(item) for item in items]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        return list(pool.map(parse_item, items, chunksize=max(16, len(items) // (workers * 8))))


def ingest_landing(paths: HomePaths, conn: duckdb.DuckDBPyConnection, validate_batch=None,
                   workers: int | None = None) -> IngestResult:
    """Ingest every file waiting in `landing/` as one batch.

    `validate_batch(parsed_files)` may add problems to files before loading (the batch-level
    Great Expectations suites); a file with any error is quarantined whole. `workers` parsing
    processes (default `ingest_workers()`) share a large batch.
    """
    workers = ingest_workers() if workers is None else workers
    create_raw_tables(conn)
    result = IngestResult()
    known = {sha: (status, name) for sha, status, name in
             conn.execute("select file_sha256, status, file_name from raw.files").fetchall()}
    batch: list[tuple[Path, ParsedFile, dt.datetime]] = []
    in_batch: dict[str, ParsedFile] = {}
    copies_in_batch: list[tuple[Path, str]] = []  # the same bytes twice in this batch: moved after the commit
    to_parse: list[tuple[Path, bytes, dt.datetime]] = []
    for path in landing_files(paths):
        data = path.read_bytes()
        sha = sha256_of(data)
        if sha in known:
            # Same bytes again: nothing changes; finish a move a crash may have left undone.
            status, name = known[sha]
            target = archive_path(paths, sha, name) if status == "accepted" else quarantine_path(paths, sha, name)
            _move(path, target)
            result.duplicates.append(path.name)
            continue
        if sha in in_batch:
            copies_in_batch.append((path, sha))
            result.duplicates.append(path.name)
            continue
        arrived_at = dt.datetime.fromtimestamp(path.stat().st_mtime)
        in_batch[sha] = None
        to_parse.append((path, data, arrived_at))
    for (path, _, arrived_at), parsed in zip(to_parse, _parse_many(to_parse, workers)):
        in_batch[parsed.sha256] = parsed
        batch.append((path, parsed, arrived_at))
    del to_parse
    if validate_batch is not None:
        validate_batch([p for _, p, _ in batch if not p.has_errors])

    now = dt.datetime.now().replace(microsecond=0)
    file_rows, problem_rows, table_rows = [], [], {}
    for path, parsed, arrived_at in batch:
        accepted = not parsed.has_errors
        stored = archive_path(paths, parsed.sha256, path.name) if accepted else quarantine_path(
            paths, parsed.sha256, path.name)
        file_rows.append(dict(
            file_sha256=parsed.sha256, file_name=path.name, kind=parsed.kind, arrived_at=arrived_at,
            ingested_at=now, status="accepted" if accepted else "rejected",
            stored_path=str(stored.relative_to(paths.home)),
            n_errors=sum(p.severity == "error" for p in parsed.problems),
            n_warnings=sum(p.severity == "warning" for p in parsed.problems),
        ))
        problem_rows += [dict(file_sha256=parsed.sha256, file_name=p.file, sheet=p.sheet, row=p.row,
                              column=p.column, rule=p.rule, severity=p.severity, message=p.message,
                              ma_xa=p.ma_xa, ky_bao_cao=p.ky_bao_cao, found_at=now)
                         for p in parsed.problems]
        if accepted:
            for table, rows in parsed.rows.items():
                lineage = {"file_sha256": parsed.sha256, "file_name": path.name}
                table_rows.setdefault(table, []).extend({**row, **lineage} for row in rows)

    conn.execute("begin transaction")
    try:
        _insert(conn, "files", file_rows)
        _insert(conn, "ingest_problems", problem_rows)
        for table, rows in table_rows.items():
            _insert(conn, table, rows)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise

    for path, parsed, arrived_at in batch:
        if parsed.has_errors:
            target = quarantine_path(paths, parsed.sha256, path.name)
            _move(path, target)
            _write_reasons(target, parsed, arrived_at)
            result.rejected.append(path.name)
        else:
            _move(path, archive_path(paths, parsed.sha256, path.name))
            result.accepted.append(path.name)
    for path, sha in copies_in_batch:
        first = next(p for p, parsed, _ in batch if parsed.sha256 == sha)
        if in_batch[sha].has_errors:
            _move(path, quarantine_path(paths, sha, first.name))
        else:
            _move(path, archive_path(paths, sha, first.name))
    result.rows = {table: len(rows) for table, rows in table_rows.items()}
    return result
