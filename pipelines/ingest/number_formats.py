"""Which numeric cells of a workbook show a number other than the stored one (contract §2: values
as shown). python-calamine gives values only, so the formats are read from the xlsx itself:
`xl/styles.xml` (custom `numFmts`, `cellXfs` → format id) and the style index `s` of the cells of
the sheets that hold numbers.

Cheap on purpose (it runs for every workbook): when no cell style has a decimal or percent format,
only styles.xml is read; otherwise only the named sheets' XML, with a regex over the cell tags.
"""

from __future__ import annotations

import html
import io
import re
import struct
import zipfile
import zlib

# Built-in format ids (ECMA-376 §18.8.30) that fix decimals or show percent: id → (decimals, percent).
# 0 General, 11/48 scientific, 12/13 fractions, 14-22 and 45-47 dates and times, 49 text: as stored.
_BUILTIN = {
    1: (0, False), 2: (2, False), 3: (0, False), 4: (2, False), 5: (0, False), 6: (0, False),
    7: (2, False), 8: (2, False), 9: (0, True), 10: (2, True), 37: (0, False), 38: (0, False),
    39: (2, False), 40: (2, False), 41: (0, False), 42: (0, False), 43: (2, False), 44: (2, False),
}

_NUM_FMT = re.compile(rb"<(?:\w+:)?numFmt\b([^>]*)>")
_CELL_XFS = re.compile(rb"<(?:\w+:)?cellXfs\b[^>]*>(.*?)</(?:\w+:)?cellXfs>", re.S)
_XF = re.compile(rb"<(?:\w+:)?xf\b([^>]*)>")
_TAG = re.compile(rb"<(?:\w+:)?(row|c)\b([^>]*)>")
_ATTR = {name: re.compile(rb'\b' + name.encode() + rb'\s*=\s*"([^"]*)"')
         for name in ("numFmtId", "formatCode", "r", "s", "name", "Id", "Target")}
_SHEET = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)>")
_RID = re.compile(rb'\br:id\s*=\s*"([^"]*)"|\b\w+:id\s*=\s*"([^"]*)"')
_RELATIONSHIP = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)>")
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
# In a format code: quoted text, escaped characters, [colour]/[locale]/[condition] parts, padding.
_FORMAT_NOISE = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


def _attr(attributes: bytes, name: str) -> str | None:
    found = _ATTR[name].search(attributes)
    return html.unescape(found.group(1).decode("utf-8", "replace")) if found else None


def classify(code: str) -> tuple[int, bool] | None:
    """A format code's (decimals, percent), or None when it shows the number as stored (General,
    text, scientific, fraction, date or time). Only the first section (positive numbers) counts."""
    section = _FORMAT_NOISE.sub("", code).split(";")[0]
    lowered = section.strip().lower()
    if not lowered or lowered == "general" or "@" in section or "/" in section:
        return None
    if re.search(r"[eE][+-]", section) or re.search(r"[yYmMdDhHsS]", section):
        return None
    if not any(ch in section for ch in "0#?"):
        return None
    decimals = re.search(r"\.([0#?]+)", section)
    return (len(decimals.group(1)) if decimals else 0), "%" in section


def _parse_styles(xml: bytes) -> dict[int, tuple[int, bool]]:
    """Cell style index → (decimals, percent), for the styles whose format changes what is shown."""
    custom = {}
    for found in _NUM_FMT.finditer(xml):
        fmt_id, code = _attr(found.group(1), "numFmtId"), _attr(found.group(1), "formatCode")
        if fmt_id and fmt_id.isdigit() and code is not None:
            custom[int(fmt_id)] = classify(code)
    cell_xfs = _CELL_XFS.search(xml)
    if not cell_xfs:
        return {}
    styles = {}
    for index, found in enumerate(_XF.finditer(cell_xfs.group(1))):
        fmt_id = _attr(found.group(1), "numFmtId")
        if not fmt_id or not fmt_id.isdigit():
            continue
        fmt = custom[int(fmt_id)] if int(fmt_id) in custom else _BUILTIN.get(int(fmt_id))
        if fmt is not None:
            styles[index] = fmt
    return styles


_CENTRAL = struct.Struct("<4s6H3L5H2L")  # a zip central directory record (46 bytes, then the name)
_LOCAL = struct.Struct("<4s5H3L2H")  # a local file header (30 bytes)
_STYLES_NAME = b"xl/styles.xml"
_MAX_STYLES_BYTES = 16 << 20
_styles_seen: dict[tuple[int, int], dict[int, tuple[int, bool]]] = {}


def _styles(data: bytes) -> dict[int, tuple[int, bool]]:
    """The styles of an xlsx's bytes. Files made from one template share styles.xml, so the styles
    are remembered by the member's CRC and size, read from the zip's central directory without
    opening the zip (opening it cost more than the rest of this module for a template)."""
    at = data.rfind(_STYLES_NAME)
    record = data[at - _CENTRAL.size:at] if at >= _CENTRAL.size else b""
    if len(record) == _CENTRAL.size and record[:4] == b"PK\x01\x02":
        fields = _CENTRAL.unpack(record)
        method, crc, packed, size = fields[4], fields[7], fields[8], fields[9]
        name_length, offset = fields[10], fields[16]
        if name_length == len(_STYLES_NAME) and size <= _MAX_STYLES_BYTES:
            if (crc, size) in _styles_seen:
                return _styles_seen[(crc, size)]
            local = data[offset:offset + _LOCAL.size]
            if len(local) == _LOCAL.size and local[:4] == b"PK\x03\x04" and method in (0, 8):
                header = _LOCAL.unpack(local)
                start = offset + _LOCAL.size + header[9] + header[10]
                raw = data[start:start + packed]
                xml = raw if method == 0 else zlib.decompressobj(-15).decompress(raw, size)
                if len(xml) == size and zlib.crc32(xml) == crc:
                    if len(_styles_seen) > 256:
                        _styles_seen.clear()
                    styles = _styles_seen[(crc, size)] = _parse_styles(xml)
                    return styles
    with zipfile.ZipFile(io.BytesIO(data)) as archive:  # an unusual layout: let zipfile find it
        try:
            return _parse_styles(archive.read("xl/styles.xml"))
        except KeyError:
            return {}


def _sheet_paths(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML in the zip."""
    targets = {}
    for found in _RELATIONSHIP.finditer(archive.read("xl/_rels/workbook.xml.rels")):
        rel_id, target = _attr(found.group(1), "Id"), _attr(found.group(1), "Target")
        if rel_id and target:
            targets[rel_id] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    paths = {}
    for found in _SHEET.finditer(archive.read("xl/workbook.xml")):
        name, rid = _attr(found.group(1), "name"), _RID.search(found.group(1))
        if name and rid:
            target = targets.get((rid.group(1) or rid.group(2)).decode())
            if target:
                paths[name] = target
    return paths


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cells(xml: bytes, styles: dict[int, tuple[int, bool]]) -> dict[tuple[int, int], tuple[int, bool]]:
    """(row number from 1, column index from 0) → (decimals, percent) of the cells using those styles.
    Rows and cells without an `r` follow the previous one, as the format allows."""
    wanted = re.compile(rb'\bs\s*=\s*"(' + b"|".join(str(i).encode() for i in styles) + rb')"')
    if not wanted.search(xml):
        return {}
    found_cells = {}
    row, column = 0, -1
    for tag in _TAG.finditer(xml):
        attributes = tag.group(2)
        if tag.group(1) == b"row":
            ref = _attr(attributes, "r")
            row = int(ref) if ref and ref.isdigit() else row + 1
            column = -1
            continue
        ref = _attr(attributes, "r")
        match = _CELL_REF.match(ref) if ref else None
        if match:
            column, row = _column_index(match.group(1)), int(match.group(2))
        else:
            column += 1
        style = wanted.search(attributes)
        if style:
            found_cells[(row, column)] = styles[int(style.group(1))]
    return found_cells


def shown_formats(data: bytes, sheets: set[str], fold) -> dict[str, dict[tuple[int, int], tuple[int, bool]]]:
    """For the sheets whose folded name is in `sheets`: {sheet name: {(row, column): (decimals, percent)}}
    of the cells whose number format fixes decimals or shows percent. Empty when nothing does (most
    files), or when the workbook is not an xlsx (xls, ods: read as stored)."""
    try:
        styles = _styles(data)
        if not styles:
            return {}
        archive = zipfile.ZipFile(io.BytesIO(data))
        result = {}
        for name, path in _sheet_paths(archive).items():
            if fold(name) in sheets:
                cells = _cells(archive.read(path), styles)
                if cells:
                    result[name] = cells
        return result
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError, zlib.error, NotImplementedError):
        return {}  # calamine read the values; a part it did not need is missing or damaged: read as stored
