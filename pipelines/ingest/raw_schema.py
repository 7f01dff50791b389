"""The raw tables' columns, and rows of one file as Arrow tables of those columns.

Apart from the store (store.py, which imports DuckDB) so that a parsing worker can turn its file's
rows into Arrow itself: a chunk of files crosses the pipe as compact columns rather than millions of
dicts, and the ingesting process holds only a chunk's columns at a time.
"""

from __future__ import annotations

import pyarrow as pa

from pipelines.ingest.receipts import VIETNAM

_LINEAGE = {"file_sha256": "VARCHAR", "file_name": "VARCHAR", "source_sheet": "VARCHAR", "source_row": "INTEGER"}
_SUBMISSION_REF = {"submission_id": "VARCHAR", "ma_xa": "VARCHAR", "ky_bao_cao": "VARCHAR"}
# Columns the loader adds from the file itself; a reader's rows never carry them.
FILE_COLUMNS = ("file_sha256", "file_name")


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
# The tables a reader fills (the others are the loader's own records of files and problems).
DATA_TABLES = tuple(table for table in RAW_TABLES if table not in ("files", "ingest_problems"))

_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "TIMESTAMP": pa.timestamp("us"),
                "TIMESTAMPTZ": pa.timestamp("us", tz=str(VIETNAM))}


def arrow_type(kind: str) -> pa.DataType:
    return _ARROW_TYPES[kind.split()[0]]


def records_table(table: str, records: list[dict], skip: tuple[str, ...] = ()) -> pa.Table:
    """Records (dicts) as an Arrow table of the raw table's columns (but `skip`), built a column at a
    time: a frame made from 300,000 dicts costs seconds. Raises pyarrow's errors (ArrowException,
    TypeError, ValueError, OverflowError) for a value that does not fit its column."""
    return pa.table({name: pa.array([record.get(name) for record in records], arrow_type(kind))
                     for name, kind in RAW_TABLES[table].items() if name not in skip})


ROW_ERRORS = (pa.ArrowException, TypeError, ValueError, OverflowError)


def file_tables(rows: dict[str, list[dict]]) -> dict[str, pa.Table]:
    """A reader's rows of one file as Arrow, per data table (without the loader's file columns)."""
    return {table: records_table(table, found, FILE_COLUMNS) for table, found in rows.items() if found}
