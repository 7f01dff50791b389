"""Reading one received file into canonical rows, recognising it by its content.

Both forms of a submission (xlsx workbook, CSV bundle zip) and both forms of claims (CSV,
workbook sheet `ChiSo`) end here as the same rows: nothing downstream knows where a row came from
except through its lineage (file, sheet, row). Every problem names file, sheet, row and column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from python_calamine import CalamineWorkbook

from pipelines import rules
from pipelines.ingest import normalize as n
from pipelines.ingest.number_formats import shown_formats
from pipelines.ingest.schema import (
    CHI_TIEU, CLAIMS, CRITERIA_SETS, KEY_VALUE_HEADER, OCOP, SUBMISSION_KEYS, SUBMISSION_TABLES,
    THONG_TIN, TIEU_CHI, TONG_HOP, Field, Table, claim_value,
)

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
    # raw table name → rows (dicts of canonical key → canonical text, with lineage keys)
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    problems: list[Problem] = field(default_factory=list)

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
            if f is not None and f.key not in columns:
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


# --- recognising and opening files -------------------------------------------------------------

# Sheets holding numbers read as their cells show them (TieuChi's criterion numbers need not be).
_SHOWN_SHEETS = frozenset(n.fold(t.sheet) for t in (TONG_HOP, CHI_TIEU, OCOP, CLAIMS))


def _xlsx_grids(data: bytes) -> dict[str, Grid]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    formats = shown_formats(data, _SHOWN_SHEETS, n.fold) if data[:2] == b"PK" else {}
    grids = {}
    for name in workbook.sheet_names:
        sheet = workbook.get_sheet_by_name(name)
        rows = sheet.to_python(skip_empty_area=False)
        grids[n.fold(name)] = Grid(name, [(i + 1, r) for i, r in enumerate(rows)], spreadsheet=True,
                                   formats=formats.get(name, {}))
    return grids


def _csv_grid(name: str, data: bytes) -> Grid:
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    return Grid(name, [(i + 1, r) for i, r in enumerate(rows)], spreadsheet=False)


def _bundle_grids(archive: zipfile.ZipFile, parsed: ParsedFile) -> dict[str, Grid]:
    grids = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        base = info.filename.rsplit("/", 1)[-1]
        if not base.lower().endswith(".csv"):
            continue
        try:
            grids[n.fold(base[:-4])] = _csv_grid(base, archive.read(info))
        except UnicodeDecodeError:
            parsed.problem(base, None, None, "encoding", "tệp không phải UTF-8 (file is not UTF-8 text)")
    return grids


def parse_bytes(name: str, data: bytes) -> ParsedFile:
    """Recognise a file by its content and read it. Never raises for bad input: problems say why."""
    parsed = ParsedFile(name=name, sha256=sha256_of(data))
    suffix = Path(name).suffix.lower()
    if data[:8] == _OLE2_MAGIC:  # an old .xls workbook: calamine reads it like an .xlsx
        try:
            _parse_workbook(_xlsx_grids(data), parsed)
        except Exception as error:
            parsed.problem(None, None, None, "unreadable_file", f"không đọc được tệp .xls (cannot read: {error})")
        return parsed
    if data[:4] == b"PK\x03\x04":
        try:
            if b"xl/workbook.xml" in data:  # an xlsx: calamine reads the zip itself, no need to list it first
                _parse_workbook(_xlsx_grids(data), parsed)
                return parsed
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = {i.filename for i in archive.infolist()}
            if _is_ods(archive, names):
                _parse_workbook(_xlsx_grids(data), parsed)
            else:
                grids = _bundle_grids(archive, parsed)
                if "thongtin" in grids:
                    _parse_submission_bundle(grids, parsed)
                else:
                    parsed.problem(None, None, None, "unrecognised_zip",
                                   "tệp zip không có thong_tin.csv (zip holds no thong_tin.csv)")
        except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError) as error:
            parsed.problem(None, None, None, "unreadable_file",
                           f"không đọc được tệp nén (damaged or truncated zip/xlsx: {error})")
        except Exception as error:  # calamine raises its own error types for damaged workbooks
            parsed.problem(None, None, None, "unreadable_file", f"không đọc được tệp (cannot read: {error})")
        return parsed
    if suffix in (".xlsx", ".zip", ".xlsm"):
        parsed.problem(None, None, None, "unreadable_file",
                       f"tệp {suffix} không phải tệp Excel/zip hợp lệ (not a valid workbook or zip)")
        return parsed
    try:
        grid = _csv_grid(name, data)
    except UnicodeDecodeError:
        parsed.problem(None, None, None, "encoding", "tệp không phải UTF-8 (file is not UTF-8 text)")
        return parsed
    header = next((cells for _, cells in grid.rows if not _is_blank(cells)), [])
    if any(n.fold(c) in ("chiso", n.fold("Chỉ số")) for c in header):
        _parse_claims(grid, parsed)
    else:
        parsed.problem(None, None, None, "unrecognised_file",
                       "không nhận ra tệp (not a submission workbook, CSV bundle or claims file)")
    return parsed


_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _is_ods(archive: zipfile.ZipFile, names: set[str]) -> bool:
    return "mimetype" in names and archive.read("mimetype").startswith(b"application/vnd.oasis.opendocument.spreadsheet")


def _parse_workbook(grids: dict[str, Grid], parsed: ParsedFile) -> None:
    """A workbook is a submission when it has ThongTin, claims when it has ChiSo."""
    if "thongtin" in grids:
        _parse_submission_workbook(grids, parsed)
    elif "chiso" in grids:
        _parse_claims(grids["chiso"], parsed)
    else:
        sheets = ", ".join(g.name for g in grids.values())
        parsed.problem(None, None, None, "unrecognised_workbook",
                       f"không có trang ThongTin hoặc ChiSo (no sheet named ThongTin or ChiSo; found: {sheets})")


def parse_path(path: Path) -> ParsedFile:
    """Read and parse one file; also what a parsing worker runs (this module imports neither Dagster
    nor DuckDB, so a worker starts in a fraction of a second)."""
    return parse_bytes(path.name, path.read_bytes())


# --- submissions -------------------------------------------------------------------------------

@dataclass
class _Submission:
    info: dict  # key → (value, row, column)
    sheet: str
    row: int
    totals: dict = field(default_factory=dict)  # key → (value, sheet, row, column)
    tables: dict = field(default_factory=lambda: defaultdict(list))  # table → [(sheet, row, record)]


def _parse_submission_workbook(grids: dict[str, Grid], parsed: ParsedFile) -> None:
    parsed.kind = SUBMISSION
    for table in SUBMISSION_TABLES:
        if table.required and n.fold(table.sheet) not in grids:
            parsed.problem(table.sheet, None, None, "missing_sheet",
                           f"thiếu trang '{table.sheet}' (required sheet missing)")
    if parsed.has_errors:
        return
    info_grid = grids["thongtin"]
    blank_keys: dict = {}
    info = _read_key_value(info_grid, THONG_TIN, parsed, blank_keys)
    for f in THONG_TIN.fields:
        if f.required and f.key not in info:
            row, ref = blank_keys.get(f.key, (None, f.key))
            parsed.problem(info_grid.name, row, ref, "missing_key",
                           f"thiếu '{f.label}' ({f.key}) (required value missing)")
    if parsed.has_errors:
        return
    first_row = min(row for _, row, _ in info.values())
    submission = _Submission(info=info, sheet=info_grid.name, row=first_row)
    totals_grid = grids[n.fold(TONG_HOP.sheet)]
    for key, (value, row, ref) in _read_key_value(totals_grid, TONG_HOP, parsed).items():
        submission.totals[key] = (value, totals_grid.name, row, ref)
    for table in SUBMISSION_TABLES:
        if table.key_value or n.fold(table.sheet) not in grids:
            continue
        grid = grids[n.fold(table.sheet)]
        if table is not TIEU_CHI and all(_is_blank(cells) for _, cells in grid.rows):
            continue  # an OCOP or ChiTieu sheet left blank, header and all, has no rows (contract: may be empty)
        for row, record in _read_table(grid, table.fields, parsed):
            submission.tables[table.name].append((grid.name, row, record))
    _finish_submissions(parsed, [submission])


def _parse_submission_bundle(grids: dict[str, Grid], parsed: ParsedFile) -> None:
    parsed.kind = SUBMISSION
    for table in SUBMISSION_TABLES:
        if table.required and table.name.replace("_", "") not in grids:
            parsed.problem(table.csv_name, None, None, "missing_sheet",
                           f"thiếu tệp '{table.csv_name}' trong gói (required file missing from bundle)")
    if parsed.has_errors:
        return
    submissions: dict[tuple[str, str], _Submission] = {}
    info_grid = grids["thongtin"]
    for row, record in _read_table(info_grid, THONG_TIN.fields, parsed, skip_totals=False):
        if not all(f.key in record for f in THONG_TIN.fields if f.required):
            continue
        key = (record["ma_xa"][0], record["ky_bao_cao"][0])
        if key in submissions:
            parsed.problem(info_grid.name, row, "ma_xa", "duplicate_submission",
                           f"xã {key[0]} kỳ {key[1]} xuất hiện hai lần (the same commune and period twice)",
                           ma_xa=key[0], ky=key[1])
            continue
        info = {k: (v, row, ref) for k, (v, ref) in record.items()}
        submissions[key] = _Submission(info=info, sheet=info_grid.name, row=row)
    for table in SUBMISSION_TABLES:
        grid = grids.get(table.name.replace("_", ""))
        if table is THONG_TIN or grid is None:
            continue
        fields = (*SUBMISSION_KEYS, *table.fields)
        for row, record in _read_table(grid, fields, parsed, skip_totals=not table.key_value):
            if "ma_xa" not in record or "ky_bao_cao" not in record:
                continue
            key = (record.pop("ma_xa")[0], record.pop("ky_bao_cao")[0])
            submission = submissions.get(key)
            if submission is None:
                parsed.problem(grid.name, row, "ma_xa", "orphan_row",
                               f"xã {key[0]} kỳ {key[1]} không có trong thong_tin.csv (no matching submission)",
                               ma_xa=key[0], ky=key[1])
                continue
            if table.key_value:
                submission.totals.update({k: (v, grid.name, row, ref) for k, (v, ref) in record.items()})
            else:
                submission.tables[table.name].append((grid.name, row, record))
    _finish_submissions(parsed, list(submissions.values()))


def _finish_submissions(parsed: ParsedFile, submissions: list[_Submission]) -> None:
    """Per-submission rules, then flatten into raw rows with lineage."""
    if not submissions and not parsed.has_errors:
        parsed.problem(None, None, None, "empty_file", "không có báo cáo nào (no submission in file)")
    for sub in submissions:
        ma_xa, ky = sub.info["ma_xa"][0], sub.info["ky_bao_cao"][0]
        criteria_set = sub.info["bo_tieu_chi"][0]
        submission_id = f"{parsed.sha256[:16]}:{ma_xa}:{ky}"
        _check_criteria(parsed, sub, ma_xa, ky, CRITERIA_SETS[criteria_set])
        _check_ocop(parsed, sub, ma_xa, ky)
        row = {k: v for k, (v, _, _) in sub.info.items()}
        row.update(submission_id=submission_id, thang=n.period_last_month(ky),
                   source_sheet=sub.sheet, source_row=sub.row)
        parsed.rows["submissions"].append(row)
        for key, (value, sheet, line, ref) in sub.totals.items():
            parsed.rows["tong_hop"].append(dict(
                submission_id=submission_id, ma_xa=ma_xa, ky_bao_cao=ky, truong=key, gia_tri=value,
                source_sheet=sheet, source_row=line, source_column=ref,
            ))
        for table_name, records in sub.tables.items():
            for sheet, line, record in records:
                values = {k: v for k, (v, _) in record.items()}
                values.update(submission_id=submission_id, ma_xa=ma_xa, ky_bao_cao=ky,
                              source_sheet=sheet, source_row=line)
                parsed.rows[table_name].append(values)
    _place_warnings(parsed, submissions)


def _place_warnings(parsed: ParsedFile, submissions: list[_Submission]) -> None:
    """A cell's warning (an ambiguous number) names its commune and period, found through the row it
    was read from, so the quality issue lands on the commune and resolves with its next report."""
    unplaced = [p for p in parsed.problems if p.ma_xa is None and p.row is not None]
    if not unplaced:
        return
    where = {(row.get("source_sheet"), row.get("source_row")): (row.get("ma_xa"), row.get("ky_bao_cao"))
             for rows in parsed.rows.values() for row in rows}
    only = (submissions[0].info["ma_xa"][0], submissions[0].info["ky_bao_cao"][0]) if len(submissions) == 1 else None
    for problem in unplaced:
        problem.ma_xa, problem.ky_bao_cao = where.get((problem.sheet, problem.row)) or only or (None, None)


def _check_criteria(parsed, sub, ma_xa, ky, expected: int) -> None:
    seen: dict[int, int] = {}
    sheet = TIEU_CHI.sheet
    for sheet, line, record in sub.tables.get("tieu_chi", []):
        if "tieu_chi" not in record:
            continue
        number = int(record["tieu_chi"][0])
        if not 1 <= number <= expected:
            parsed.problem(sheet, line, record["tieu_chi"][1], "unknown_criterion",
                           f"tiêu chí {number} không thuộc bộ {sub.info['bo_tieu_chi'][0]} (1..{expected})",
                           ma_xa=ma_xa, ky=ky)
        elif number in seen:
            parsed.problem(sheet, line, record["tieu_chi"][1], "repeated_criterion",
                           f"tiêu chí {number} lặp lại (also on row {seen[number]})", ma_xa=ma_xa, ky=ky)
        else:
            seen[number] = line
    missing = [str(i) for i in range(1, expected + 1) if i not in seen]
    if missing:
        parsed.problem(sheet, None, "tieu_chi", "missing_criterion",
                       f"xã {ma_xa} kỳ {ky}: thiếu tiêu chí {', '.join(missing)} (criteria missing)",
                       ma_xa=ma_xa, ky=ky)


def _check_ocop(parsed, sub, ma_xa, ky) -> None:
    for sheet, line, record in sub.tables.get("ocop", []):
        if "diem" not in record or "so_sao" not in record:
            continue
        score, stars = float(record["diem"][0]), int(record["so_sao"][0])
        low, high = rules.ocop_star_bands()[stars]
        if not low <= score < high:
            parsed.problem(sheet, line, record["diem"][1], "ocop_score_band",
                           f"điểm {record['diem'][0]} không khớp {stars} sao "
                           f"({low:g}-{min(high, 100):g} điểm) (score outside its star band)",
                           ma_xa=ma_xa, ky=ky)


# --- claims ------------------------------------------------------------------------------------

def _parse_claims(grid: Grid, parsed: ParsedFile) -> None:
    parsed.kind = CLAIMS_KIND
    for line, record in _read_table(grid, CLAIMS.fields, parsed, skip_totals=False):
        values = {k: v for k, (v, _) in record.items()}
        if "gia_tri" in record:  # checked before giving up on the row, so every bad cell is listed
            raw, ref = record["gia_tri"]
            try:
                values["gia_tri"], values["so_chu_so_thap_phan"] = claim_value(raw, values.get("chi_so"))
            except ValueError as error:
                parsed.problem(grid.name, line, ref, "invalid_value", f"Giá trị: {error}")
                continue
            values["gia_tri"] = parsed.take(values["gia_tri"], grid.name, line, ref)
            # as the officer saw it: a workbook number as its format (or General) shows it, text as typed
            values["gia_tri_goc"] = (raw.display if type(raw) is n.Shown else values["gia_tri"]
                                     if isinstance(raw, (int, float)) else n.cell_text(raw))
        if not all(f.key in record for f in CLAIMS.fields if f.required):
            continue
        unit = values.get("ma_don_vi")
        if unit and unit.isdigit():  # a code Excel stored as a number lost its leading zero
            values["ma_don_vi"] = unit.zfill(2 if values["cap"] == "tinh" else 3)
        if values["cap"] != "toan_quoc" and not values.get("ma_don_vi"):
            parsed.problem(grid.name, line, "ma_don_vi", "missing_value",
                           "thiếu mã đơn vị (unit code required unless cap is toan_quoc)")
            continue
        if values["tu_thang"] > values["den_thang"]:
            parsed.problem(grid.name, line, "tu_thang", "invalid_range",
                           f"từ tháng {values['tu_thang']} sau đến tháng {values['den_thang']} (range reversed)")
            continue
        values.update(claim_id=f"{parsed.sha256[:16]}:{line}", source_sheet=grid.name, source_row=line)
        parsed.rows["claims"].append(values)
    if not parsed.rows["claims"] and not parsed.has_errors:
        parsed.problem(grid.name, None, None, "empty_file", "không có chỉ số nào (no claims in file)")
