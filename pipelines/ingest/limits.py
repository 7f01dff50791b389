"""File-level limits, checked from a zip's directory and a sheet's declared size before any reader
expands a byte, and the bundle member rules (what a zip may hold).

A reader given a zip bomb or a sheet declaring a cell at XFD1048576 asks for gigabytes at once
(calamine allocates the sheet's whole rectangle): these checks turn such files into problems naming
the limit. What they cannot foresee (a sheet whose cells lie about its dimension) the worker's
memory limit catches (pipelines/ingest/worker.py).
"""

from __future__ import annotations

import re
import zipfile
from functools import lru_cache
from pathlib import PurePosixPath

from pipelines.settings import Limits

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([^\"]+)\"")
_CELL = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData")


def _mib(size: float) -> str:
    return f"{size / (1024 * 1024):,.1f} MiB"


def check_file_size(parsed, size: int, limits: Limits) -> bool:
    """False (and a problem) when the received file is larger than `max_file_mb`."""
    if size > Limits.mib(limits.max_file_mb):
        parsed.problem(None, None, None, "limit_file_bytes",
                       f"tệp quá lớn: {_mib(size)} (file larger than the limit max_file_mb = {limits.max_file_mb:g} MiB)")
        return False
    return True


def check_zip(parsed, archive: zipfile.ZipFile, compressed_size: int, limits: Limits) -> bool:
    """Members, expanded bytes and compression ratio from the zip's directory. The sizes are the
    declared ones; Python's zipfile never expands a member past its declared size, and calamine's
    reading is bounded by the worker's memory limit."""
    infos = archive.infolist()
    if len(infos) > limits.max_zip_members:
        parsed.problem(None, None, None, "limit_zip_members",
                       f"tệp nén có {len(infos):,} mục (zip holds {len(infos):,} members; "
                       f"limit max_zip_members = {limits.max_zip_members:,})")
        return False
    expanded = sum(info.file_size for info in infos)
    if expanded > Limits.mib(limits.max_expanded_mb):
        parsed.problem(None, None, None, "limit_expanded_bytes",
                       f"tệp nén giải nén ra {_mib(expanded)} (expands to {_mib(expanded)}; "
                       f"limit max_expanded_mb = {limits.max_expanded_mb:g} MiB)")
        return False
    ratio = expanded / max(compressed_size, 1)
    if expanded > Limits.mib(limits.ratio_floor_mb) and ratio > limits.max_compression_ratio:
        parsed.problem(None, None, None, "limit_compression_ratio",
                       f"tỉ lệ nén {ratio:,.0f}:1 (compression ratio {ratio:,.0f}:1 over "
                       f"{_mib(expanded)}; limit max_compression_ratio = {limits.max_compression_ratio:g})")
        return False
    return True


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


@lru_cache(maxsize=1024)  # the same few dimensions recur in every template
def declared_cells(ref: str) -> int | None:
    """Cells in a dimension like `A1:J50` (500) or `B3` (1); None when it cannot be read."""
    corners = [_CELL.fullmatch(part.strip()) for part in ref.split(":")]
    if not corners or len(corners) > 2 or not all(corners):
        return None
    (c1, r1), (c2, r2) = (corners[0].groups(), corners[-1].groups())
    rows = abs(int(r2) - int(r1)) + 1
    columns = abs(_column_number(c2) - _column_number(c1)) + 1
    return rows * columns


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet member → the sheet's name, for messages (read only when a sheet is over the limit)."""
    try:
        book = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError):
        return {}
    targets = {m.group(1): m.group(2) for m in re.finditer(r'Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)}
    targets.update({m.group(2): m.group(1) for m in re.finditer(r'Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
    names = {}
    for m in re.finditer(r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', book):
        target = targets.get(m.group(2), "")
        names["xl/" + target.lstrip("/").removeprefix("xl/")] = m.group(1)
    return names


def _head(archive: zipfile.ZipFile, data: bytes, info: zipfile.ZipInfo, size: int = 1024) -> bytes:
    """The first `size` bytes of a member, decompressed straight from the zip's bytes (a tenth of
    the cost of `archive.open`, which matters at 8,000 workbooks × 5 sheets)."""
    import struct
    import zlib

    start = info.header_offset
    if data[start:start + 4] == b"PK\x03\x04" and info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        name_length, extra_length = struct.unpack("<HH", data[start + 26:start + 30])
        begin = start + 30 + name_length + extra_length
        body = data[begin:begin + info.compress_size]
        if info.compress_type == zipfile.ZIP_STORED:
            return body[:size]
        try:
            return zlib.decompressobj(-15).decompress(body, size)
        except zlib.error:
            pass
    with archive.open(info) as member:  # anything unusual: let zipfile deal with it
        return member.read(size)


def check_sheet_dimensions(parsed, archive: zipfile.ZipFile, data: bytes, limits: Limits) -> bool:
    """Each worksheet's declared dimension, read from the head of its XML (a few KiB decompressed,
    never the whole sheet), against `max_cells_per_sheet`."""
    ok = True
    for info in archive.infolist():
        if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
            continue
        head = _head(archive, data, info)
        found = _DIMENSION.search(head)
        if found is None and not _SHEET_DATA.search(head) and len(head) == 1024:
            head = _head(archive, data, info, 65536)  # a long preamble (many column widths)
            found = _DIMENSION.search(head)
        cells = declared_cells(found.group(1).decode("ascii", "replace")) if found else None
        if cells is not None and cells > limits.max_cells_per_sheet:
            sheet = _sheet_names(archive).get(info.filename, info.filename)
            parsed.problem(sheet, None, None, "limit_sheet_cells",
                           f"trang tính khai báo vùng {found.group(1).decode('ascii', 'replace')} = {cells:,} ô "
                           f"(declared dimension of {cells:,} cells; limit max_cells_per_sheet = "
                           f"{limits.max_cells_per_sheet:,})")
            ok = False
    return ok


def is_ignored_member(name: str) -> bool:
    """Entries a zip tool adds beside the content: macOS's `__MACOSX/` folder and `._*` AppleDouble
    files, hidden files such as `.DS_Store`, folders."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return (name.endswith("/") or not parts or parts[0] == "__MACOSX"
            or any(part.startswith(".") and part not in (".", "..") for part in parts))


def is_unsafe_member(name: str) -> bool:
    """A member name that would leave the folder it is unpacked into (`../x`, `/x`, `C:x`). Members
    are only ever read in memory, but such a bundle is not one a commune's tool makes."""
    normal = name.replace("\\", "/")
    return normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) is not None or ".." in normal.split("/")


def is_temporary(relative: PurePosixPath | str) -> bool:
    """A file no one sent: Excel's `~$` lock files and hidden files or folders (`.DS_Store`,
    `._*`, `.~lock.*#` of LibreOffice). `ntm run` leaves them in landing/, `ntm validate` skips them."""
    parts = PurePosixPath(str(relative).replace("\\", "/")).parts
    return any(part.startswith((".", "~$")) and part not in (".", "..") for part in parts)
