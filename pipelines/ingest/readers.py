"""Reading one received file into canonical rows, recognising it by its content.

Both forms of a submission (xlsx workbook, CSV bundle zip) and both forms of claims (CSV,
workbook sheet `ChiSo`) end here as the same rows: nothing downstream knows where a row came from
except through its lineage (file, sheet, row). This module opens files within the limits and
recognises them; `submissions.py` and `claims.py` read their tables, `grids.py` holds what they share.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from python_calamine import CalamineWorkbook

from pipelines.ingest import normalize as n
from pipelines.ingest.claims import _parse_claims
from pipelines.ingest.grids import (  # noqa: F401  (Problem, ParsedFile, SUBMISSION, CLAIMS_KIND: the readers' API)
    CLAIMS_KIND, SUBMISSION, Grid, ParsedFile, Problem, _is_blank, sha256_of, sha256_of_file,
)
from pipelines.ingest.limits import (
    check_file_size, check_sheet_dimensions, check_zip, is_ignored_member, is_unsafe_member,
)
from pipelines.ingest.number_formats import shown_formats
from pipelines.ingest.schema import CHI_TIEU, CLAIMS, OCOP, TONG_HOP
from pipelines.ingest.submissions import _parse_submission_bundle, _parse_submission_workbook
from pipelines.settings import Limits

DEFAULT_LIMITS = Limits()


# --- recognising and opening files -------------------------------------------------------------

# Sheets holding numbers read as their cells show them (TieuChi's criterion numbers need not be).
_SHOWN_SHEETS = frozenset(n.fold(t.sheet) for t in (TONG_HOP, CHI_TIEU, OCOP, CLAIMS))


def _xlsx_grids(data: bytes, parsed: ParsedFile) -> dict[str, Grid]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    formats = shown_formats(data, _SHOWN_SHEETS, n.fold) if data[:2] == b"PK" else {}
    grids = {}
    for name in workbook.sheet_names:
        if n.fold(name) in grids:  # "OCOP" and "ocop ": sheets are matched by folded name, so one would be lost
            parsed.problem(name, None, None, "duplicate_sheet",
                           f"trang '{name}' trùng tên với trang '{grids[n.fold(name)].name}' (two sheets of one name)")
            continue
        sheet = workbook.get_sheet_by_name(name)
        rows = sheet.to_python(skip_empty_area=False)
        grids[n.fold(name)] = Grid(name, [(i + 1, r) for i, r in enumerate(rows)], spreadsheet=True,
                                   formats=formats.get(name, {}))
    return grids


class UnreadableCsv(ValueError):
    """A CSV the csv module cannot split (an unclosed quote, a field over its size limit)."""

    def __init__(self, row: int | None, rule: str, message: str):
        super().__init__(message)
        self.row, self.rule = row, rule


def _csv_grid(name: str, data: bytes, limits: Limits | None = None) -> Grid:
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise UnreadableCsv(reader.line_num or None, "unreadable_csv",
                            f"không đọc được CSV (cannot split the CSV: {error})") from None
    cells = sum(map(len, rows))
    limit = (limits or DEFAULT_LIMITS).max_cells_per_sheet
    if cells > limit:
        raise UnreadableCsv(None, "limit_sheet_cells",
                            f"{cells:,} ô (CSV holds {cells:,} cells; limit max_cells_per_sheet = {limit:,})")
    return Grid(name, [(i + 1, r) for i, r in enumerate(rows)], spreadsheet=False)


def _bundle_grids(archive: zipfile.ZipFile, parsed: ParsedFile, limits: Limits) -> dict[str, Grid]:
    """The bundle's CSV members by folded name. Zip-tool extras (`__MACOSX/`, `._*`, hidden files)
    are ignored; a member name that climbs out of its folder, or one table twice (also under two
    folders), is an error: which copy to load would be a guess."""
    grids, seen = {}, {}
    for info in archive.infolist():
        if info.is_dir() or is_ignored_member(info.filename):
            continue
        if is_unsafe_member(info.filename):
            parsed.problem(info.filename, None, None, "unsafe_member_name",
                           "tên tệp trong gói ra ngoài thư mục (member name leaves its folder: ../ or absolute)")
            continue
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not base.lower().endswith(".csv"):
            continue
        key = n.fold(base[:-4])
        if key in seen:
            parsed.problem(base, None, None, "duplicate_member",
                           f"gói có hai tệp {base} ({seen[key]} và {info.filename}) (the same table twice in the bundle)")
            continue
        seen[key] = info.filename
        try:
            grids[key] = _csv_grid(base, archive.read(info), limits)
        except UnicodeDecodeError:
            parsed.problem(base, None, None, "encoding", "tệp không phải UTF-8 (file is not UTF-8 text)")
        except UnreadableCsv as error:
            parsed.problem(base, error.row, None, error.rule, str(error))
    return grids


def parse_bytes(name: str, data: bytes, limits: Limits | None = None) -> ParsedFile:
    """Recognise a file by its content and read it. Never raises for bad input: problems say why,
    also for a reader's own failure (rule `reader_error`) or memory running out (`limit_worker_memory`)."""
    parsed = ParsedFile(name=name, sha256=sha256_of(data))
    try:
        _parse_content(parsed, data, limits or DEFAULT_LIMITS)
    except MemoryError:
        parsed.rows.clear()
        parsed.tables = {}
        parsed.problem(None, None, None, "limit_worker_memory",
                       "hết bộ nhớ khi đọc tệp (reading the file needed more memory than the limit worker_memory_mb)")
    except Exception as error:  # a reader's own bug must not pass for a good file, nor stop the batch
        parsed.rows.clear()
        parsed.tables = {}
        parsed.problem(None, None, None, "reader_error",
                       f"không đọc được tệp (reader failed: {type(error).__name__}: {error})")
    return parsed


def _parse_content(parsed: ParsedFile, data: bytes, limits: Limits) -> None:
    name = parsed.name
    suffix = Path(name).suffix.lower()
    if not check_file_size(parsed, len(data), limits):
        return
    if data[:8] == _OLE2_MAGIC:  # an old .xls workbook: calamine reads it like an .xlsx
        try:
            _parse_workbook(_xlsx_grids(data, parsed), parsed)
        except Exception as error:
            parsed.problem(None, None, None, "unreadable_file", f"không đọc được tệp .xls (cannot read: {error})")
        return
    if data[:4] == b"PK\x03\x04":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            if not check_zip(parsed, archive, len(data), limits):
                return
            names = {i.filename for i in archive.infolist()}
            if "xl/workbook.xml" in names:
                if check_sheet_dimensions(parsed, archive, data, limits):
                    _parse_workbook(_xlsx_grids(data, parsed), parsed)
            elif _is_ods(archive, names):
                _parse_workbook(_xlsx_grids(data, parsed), parsed)
            else:
                # A clean bundle column by column; anything the general reader would remark on, by it.
                from pipelines.ingest import bundle_columns  # Arrow's CSV reader: imported once a bundle comes

                tables = bundle_columns.read_bundle_columns(archive, parsed, limits)
                if tables is not None:
                    parsed.tables = tables
                    return
                grids = _bundle_grids(archive, parsed, limits)
                if parsed.has_errors:
                    return
                if "thongtin" in grids:
                    _parse_submission_bundle(grids, parsed)
                else:
                    parsed.problem(None, None, None, "unrecognised_zip",
                                   "tệp zip không có thong_tin.csv (zip holds no thong_tin.csv)")
        except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError) as error:
            parsed.rows.clear()
            parsed.tables = {}
            parsed.problem(None, None, None, "unreadable_file",
                           f"không đọc được tệp nén (damaged or truncated zip/xlsx: {error})")
        except MemoryError:
            raise
        except Exception as error:  # calamine raises its own error types for damaged workbooks
            parsed.rows.clear()
            parsed.tables = {}
            parsed.problem(None, None, None, "unreadable_file", f"không đọc được tệp (cannot read: {error})")
        return
    if suffix in (".xlsx", ".zip", ".xlsm"):
        parsed.problem(None, None, None, "unreadable_file",
                       f"tệp {suffix} không phải tệp Excel/zip hợp lệ (not a valid workbook or zip)")
        return
    try:
        grid = _csv_grid(name, data, limits)
    except UnicodeDecodeError:
        parsed.problem(None, None, None, "encoding", "tệp không phải UTF-8 (file is not UTF-8 text)")
        return
    except UnreadableCsv as error:
        parsed.problem(None, error.row, None, error.rule, str(error))
        return
    header = next((cells for _, cells in grid.rows if not _is_blank(cells)), [])
    if any(n.fold(c) in ("chiso", n.fold("Chỉ số")) for c in header):
        _parse_claims(grid, parsed)
    else:
        parsed.problem(None, None, None, "unrecognised_file",
                       "không nhận ra tệp (not a submission workbook, CSV bundle or claims file)")


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


def parse_path(path: Path, limits: Limits | None = None) -> ParsedFile:
    """Read and parse one file; what a parsing worker runs (this module imports neither Dagster nor
    DuckDB, so a worker starts in a fraction of a second). A file over `max_file_mb` is hashed in
    chunks and never read whole."""
    limits = limits or DEFAULT_LIMITS
    size = path.stat().st_size
    if size > Limits.mib(limits.max_file_mb):
        parsed = ParsedFile(name=path.name, sha256=sha256_of_file(path))
        check_file_size(parsed, size, limits)
        return parsed
    return parse_bytes(path.name, path.read_bytes(), limits)
