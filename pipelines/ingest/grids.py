"""What a received file becomes while it is read: its problems, its rows, and the grids (sheets or
CSV files) its tables are read from, with header matching and cell parsing shared by every form.

Every problem names file, sheet, row and column.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from pipelines.ingest import normalize as n
from pipelines.ingest.schema import KEY_VALUE_HEADER, Field, Table

SUBMISSION = "submission"
CLAIMS_KIND = "claims"


@dataclass
class Problem:
    file: str
    sheet: str | None
    row: int | None
    column: str | None
    rule: str
    message: str
    severity: str = "error"
    ma_xa: str | None = None
    ky_bao_cao: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        where = ", ".join(
            part for part in (
                self.sheet and f"sheet {self.sheet}",
                self.row and f"row {self.row}",
                self.column and f"column {self.column}",
            ) if part
        )
        return f"{self.severity.upper()} [{self.rule}] {self.file}{': ' + where if where else ''}: {self.message}"


@dataclass
class ParsedFile:
    name: str
    sha256: str
    kind: str | None = None
    # raw table name → rows (dicts of canonical key → canonical text, with lineage keys), as read
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    problems: list[Problem] = field(default_factory=list)
    # raw table name → the same rows as an Arrow table, once a parsing worker has converted them
    # (raw_schema.file_tables); `rows` is then empty
    tables: dict = field(default_factory=dict)

    def records(self, table: str) -> list[dict]:
        """The file's rows of a raw table as dicts, whether still as read or converted to Arrow."""
        if self.rows.get(table):
            return self.rows[table]
        found = self.tables.get(table)
        return found.to_pylist() if found is not None else []

    def has_rows(self, table: str) -> bool:
        return bool(self.rows.get(table)) or (table in self.tables and self.tables[table].num_rows > 0)

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def problem(self, sheet, row, column, rule, message, severity="error", ma_xa=None, ky=None):
        self.problems.append(Problem(self.name, sheet, row, column, rule, message, severity, ma_xa, ky))

    def take(self, value, sheet, row, column):
        """A parsed value, reporting the warning a `Noted` one carries (an ambiguous number's reading)."""
        if type(value) is n.Noted:
            self.problem(sheet, row, column, value.rule, value.note, severity="warning")
            return str(value)
        return value


@dataclass
class Grid:
    """One sheet of a workbook or one CSV file: numbered rows of cells."""

    name: str
    rows: list[tuple[int, list]]
    spreadsheet: bool  # column references are letters (B) rather than header names
    # (row, column index) → (decimals, percent) of the numeric cells whose number format changes
    # what is shown (number_formats.py); empty for CSV and for most workbooks
    formats: dict = field(default_factory=dict)

    def as_shown(self, row: int, index: int, raw):
        """A number field's cell as its format shows it (contract §2)."""
        fmt = self.formats.get((row, index))
        return n.shown(raw, *fmt) if fmt is not None else raw

    def column_ref(self, index: int, header: str) -> str:
        if not self.spreadsheet:
            return header
        letters, number = "", index + 1
        while number:
            number, rest = divmod(number - 1, 26)
            letters = chr(65 + rest) + letters
        return f"{letters} ({header})"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of_file(path) -> str:
    """The file's sha256, read in chunks: for files too large (or too dangerous) to hold whole."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_blank(cells) -> bool:
    for c in cells:
        if c is None or c == "":  # calamine's empty cell: skip the text normalisation
            continue
        if n.cell_text(c) is not None:
            return False
    return True


_TOTALS_WORDS = {"tong", "cong", "tongcong", "tongso", "total"}


def _is_totals_row(cells) -> bool:
    """A "Tổng cộng" row under a table. Only the bare word counts: a product named "Cồng chiêng"
    or "Công ty…" is data, and dropping it would silently lose a row."""
    first = next((text for text in map(n.cell_text, cells) if text is not None), "")
    key = n.fold(first)
    return key in _TOTALS_WORDS or key.startswith("tongcong")


@lru_cache(maxsize=None)
def _memoised(parse):
    """A cell parser remembering its answers: parsers are pure, and the same text recurs on every
    row of a bundle (codes, periods, criterion numbers, status words). Errors are not cached."""
    return lru_cache(maxsize=1 << 14, typed=True)(parse)


@lru_cache(maxsize=64)
def _lookup(fields: tuple[Field, ...]) -> dict[str, Field]:
    """Folded key and folded label → field (built once per table, not once per file)."""
    lookup = {}
    for f in fields:
        lookup[n.fold(f.key)] = f
        lookup[n.fold(f.label)] = f
    return lookup


def _header_map(grid: Grid, fields: tuple[Field, ...], parsed: ParsedFile):
    """Find the header row (first non-empty) and map its cells to canonical keys."""
    lookup = _lookup(fields)
    for row_number, cells in grid.rows:
        if _is_blank(cells):
            continue
        columns = {}
        for index, cell in enumerate(cells):
            header = n.cell_text(cell)
            if header is None:
                continue
            f = lookup.get(n.fold(header))
            if f is not None and f.key in columns:  # which of the two holds the values? neither is a guess to make
                parsed.problem(grid.name, row_number, grid.column_ref(index, header), "duplicate_column",
                               f"cột '{f.label}' ({f.key}) xuất hiện hai lần (column appears twice)")
            elif f is not None:
                columns[f.key] = (index, header)
        missing = [f for f in fields if f.required and f.key not in columns]
        for f in missing:
            parsed.problem(grid.name, row_number, f.key, "missing_column",
                           f"thiếu cột '{f.label}' ({f.key}) (required column missing)")
        return row_number, columns, not missing
    parsed.problem(grid.name, None, None, "empty_sheet", "trang tính trống (no header row)")
    return None, {}, False


def _read_table(grid: Grid, fields: tuple[Field, ...], parsed: ParsedFile, skip_totals: bool = True):
    """Rows of a table sheet as (row_number, {key: (value, column_ref)}), values parsed."""
    header_row, columns, ok = _header_map(grid, fields, parsed)
    if not ok:
        return []
    # Column references are worked out once per sheet, not once per cell.
    located = [(f, columns[f.key][0], grid.column_ref(*columns[f.key]), _memoised(f.parse),
                f.numeric and bool(grid.formats)) for f in fields if f.key in columns]
    records = []
    for row_number, cells in grid.rows:
        if row_number <= header_row or _is_blank(cells) or (skip_totals and _is_totals_row(cells)):
            continue
        record = {}
        for f, index, ref, parse, formatted in located:
            raw = cells[index] if index < len(cells) else None
            if n.cell_text(raw) is None and f.parse is not n.status:
                if f.required:
                    parsed.problem(grid.name, row_number, ref, "missing_value",
                                   f"thiếu giá trị '{f.label}' (required value missing)")
                continue
            if formatted:
                raw = grid.as_shown(row_number, index, raw)
            try:
                value = parse(raw)
            except ValueError as error:
                parsed.problem(grid.name, row_number, ref, "invalid_value", f"{f.label}: {error}")
                continue
            if type(value) is n.Noted:  # an ambiguous number: kept, with a warning
                value = parsed.take(value, grid.name, row_number, ref)
            record[f.key] = (value, ref)
        records.append((row_number, record))
    return records


def _read_key_value(grid: Grid, table: Table, parsed: ParsedFile, blank_keys: dict | None = None):
    """A two-column sheet (`truong`, `gia_tri`) → {key: (value, row, column_ref)}.

    `blank_keys` receives {key: (row, column_ref)} for keys listed with no value, so a missing
    required value can be pointed at (a template's empty `ngay_lap` row)."""
    header_row, columns, ok = _header_map(grid, KEY_VALUE_HEADER, parsed)
    if not ok:
        return {}
    lookup = _lookup(table.fields)
    key_index = columns["truong"][0]
    value_index, value_header = columns.get("gia_tri", (key_index + 1, "gia_tri"))
    values = {}
    for row_number, cells in grid.rows:
        if row_number <= header_row or _is_blank(cells):
            continue
        key_text = n.cell_text(cells[key_index]) if key_index < len(cells) else None
        f = lookup.get(n.fold(key_text or ""))
        if f is None:
            continue  # notes and unknown keys are not the contract's business
        raw = cells[value_index] if value_index < len(cells) else None
        ref = grid.column_ref(value_index, value_header)
        if n.cell_text(raw) is None:
            if blank_keys is not None:
                blank_keys.setdefault(f.key, (row_number, ref))
            continue
        if f.numeric and grid.formats:
            raw = grid.as_shown(row_number, value_index, raw)
        try:
            values[f.key] = (parsed.take(f.parse(raw), grid.name, row_number, ref), row_number, ref)
        except ValueError as error:
            parsed.problem(grid.name, row_number, ref, "invalid_value", f"{f.label}: {error}")
    return values
