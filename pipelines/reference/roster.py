"""The roster: which communes a province expects to report (contract §3)."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.ingest import normalize as n

ROSTER_COLUMNS = {"ma_xa": 5, "ten_xa": None, "ma_huyen": 3, "ma_tinh": 2, "tu_thang": "month", "den_thang": "month"}


class RosterError(ValueError):
    pass


def read_roster(path: Path) -> pd.DataFrame:
    """Read `reference/roster.csv`; a bad cell raises naming file, row and column."""
    if not path.exists():
        return pd.DataFrame(columns=list(ROSTER_COLUMNS), dtype="string")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = [n.fold(h) for h in next(reader, [])]
        index = {key: header.index(n.fold(key)) for key in ROSTER_COLUMNS if n.fold(key) in header}
        missing = [key for key in ("ma_xa", "ma_tinh") if key not in index]
        if missing:
            raise RosterError(f"{path}: row 1: missing column(s) {', '.join(missing)}")
        rows = []
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            row = {}
            for key, kind in ROSTER_COLUMNS.items():
                raw = cells[index[key]] if key in index and index[key] < len(cells) else None
                if n.cell_text(raw) is None:
                    row[key] = None
                    continue
                try:
                    row[key] = (n.code(raw, kind) if isinstance(kind, int)
                                else n.month(raw) if kind == "month" else n.text(raw))
                except ValueError as error:
                    raise RosterError(f"{path}: row {line}: column {key}: {error}") from None
            if row["ma_xa"] is None:
                raise RosterError(f"{path}: row {line}: column ma_xa: trống (empty)")
            rows.append(row)
    return pd.DataFrame.from_records(rows, columns=list(ROSTER_COLUMNS)).astype("string")


def load_roster(conn: duckdb.DuckDBPyConnection, path: Path) -> int:
    frame = read_roster(path)
    conn.execute("create schema if not exists ref")
    conn.register("roster_rows", frame)
    try:
        conn.execute("create or replace table ref.roster as select * from roster_rows")
    finally:
        conn.unregister("roster_rows")
    return len(frame)
