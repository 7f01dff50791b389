"""The fuzz test's mutation classes: each turns a seeded random source into one received file.

`make_case(mutation, seed)` is the only entry point; `MUTATIONS` names the classes. Every class
starts from a valid file written by pipelines/samples.py (see fuzz_support.py) and breaks it the
way files really arrive broken: cut short, bit-rotted, re-zipped on a Mac, typed on a phone with
fullwidth digits, saved by an old Vietnamese-font Excel, touched at a far-away cell.
"""

from __future__ import annotations

import random
import unicodedata

from tests.fuzz_support import (
    BASES, CLAIM_TARGETS, CODE_TARGETS, DATE_TARGETS, EXTENSIONS, NUMBER_TARGETS, PERIOD_TARGETS, Case, Doc,
    base_bytes, odd_value, read_doc, rezip, set_field, write_doc,
)
from pipelines.ingest.schema import CLAIMS, OCOP, THONG_TIN, TIEU_CHI

SUBMISSION_KINDS = ("xlsx", "bundle")
WORKBOOK_KINDS = ("xlsx", "claims_xlsx")
CSV_KINDS = ("bundle", "claims_csv")


def _base(rng, kinds=BASES) -> tuple[str, bytes]:
    kind = rng.choice(kinds)
    return kind, base_bytes(kind, rng)


def truncate(rng):
    kind, data = _base(rng)
    cut = rng.choice([0, 1, 3, 30, len(data) // 2, len(data) - 22, len(data) - 1, rng.randrange(len(data))])
    cut = max(cut, 0)
    # Half a zip or workbook has lost rows whatever a lenient reader recovers: never a submission.
    expect = "rejected" if kind != "claims_csv" and cut <= len(data) // 2 else None
    return data[:cut], EXTENSIONS[kind], f"{kind} cut to {cut} of {len(data)} bytes", None, expect


def byte_flip(rng):
    kind, data = _base(rng)
    data = bytearray(data)
    near_end = rng.random() < 0.3  # the zip's central directory
    spots = []
    for _ in range(rng.randint(1, 16)):
        spot = rng.randrange(max(0, len(data) - 200), len(data)) if near_end else rng.randrange(len(data))
        data[spot] ^= rng.randint(1, 255)
        spots.append(spot)
    return bytes(data), EXTENSIONS[kind], f"{kind} bytes flipped at {sorted(spots)}"


_SHEET_NAMES = ["Sheet1", "Thong Tin 2", "Tiêu chí", "TIEUCHI", "tong_hop", "Tổng hợp", "OCOP ", "ChiSo", "Chỉ số",
                "HuongDan", "ThongTin_cu"]
_MEMBER_NAMES = ["TIEU_CHI.CSV", "tieu chi.csv", "tieu_chi.txt", "tieu_chi.csv.bak", "TieuChi.csv", "tiêu_chí.csv",
                 "ocop.xlsx", "tong hop.csv", "thong_tin (1).csv"]


def wrong_sheet(rng):
    kind, data = _base(rng)
    doc = read_doc(kind, data)
    names = list(doc.parts)
    target = rng.choice(names)
    how = rng.choice(["rename", "drop", "junk", "swap"])
    if kind == "claims_csv":
        header = doc.parts[target][0]
        column = rng.randrange(len(header))
        header[column] = rng.choice(["chiso ", "chi_so_", "ma don vi", "gia tri (%)", ""]) if how != "drop" else header[column]
        if how == "drop":
            for row in doc.parts[target]:
                del row[column:column + 1]
        return write_doc(doc), ".csv", f"claims header column {column} {how}"
    if how == "rename":
        new = rng.choice(_SHEET_NAMES if kind in WORKBOOK_KINDS else _MEMBER_NAMES)
        # sheet names clash with case ignored (Excel's rule: no writer makes "TIEUCHI" beside "TieuChi")
        doc.parts = {(new if name == target else name): rows for name, rows in doc.parts.items()} \
            if new.casefold() not in {name.casefold() for name in doc.parts} else doc.parts
        note = f"{target} renamed {new!r}"
    elif how == "drop" and len(names) > 1:
        del doc.parts[target]
        note = f"{target} dropped"
    elif how == "swap" and len(names) > 1:
        other = rng.choice([name for name in names if name != target])
        doc.parts[target], doc.parts[other] = doc.parts[other], doc.parts[target]
        note = f"{target} and {other} swapped contents"
    else:
        junk = [["Hướng dẫn điền mẫu"], ["Không sửa tên trang"]]
        name = "HuongDan" if kind in WORKBOOK_KINDS else rng.choice(["HuongDan.txt", "readme.csv", "thong_tin.xlsx"])
        doc.parts = {name: junk, **doc.parts} if rng.random() < 0.5 else {**doc.parts, name: junk}
        note = f"extra {name}"
    return write_doc(doc), EXTENSIONS[kind], note


_FOLD_TWINS = {"thongtin": ["Thông tin", "THONGTIN", "Thong_Tin"], "tieuchi": ["Tiêu chí", "TIEU CHI"],
               "tonghop": ["Tổng hợp", "TONGHOP"], "ocop": ["ocop", "O.C.O.P"], "chitieu": ["Chỉ tiêu"],
               "chiso": ["Chỉ số", "CHI_SO"]}


def _changed_copy(rows: list[list], rng) -> list[list]:
    """The same table with other values: a second version an officer forgot to delete."""
    copy = [list(row) for row in rows]
    for row in copy[1:]:
        for i, cell in enumerate(row):
            if isinstance(cell, float) or (isinstance(cell, str) and cell.isdigit() and len(cell) <= 3):
                row[i] = type(cell)(int(float(cell)) + rng.randint(1, 3)) if rng.random() < 0.5 else cell
            elif isinstance(cell, str) and cell.startswith("2020-"):
                row[i] = "2020-" + ("12" if cell[5:7] != "12" else "11") + cell[7:]
    return copy


def duplicate_sheet(rng):
    kind, data = _base(rng)
    doc = read_doc(kind, data)
    target = rng.choice(list(doc.parts))
    twin = _changed_copy(doc.parts[target], rng)
    expect = "rejected" if twin != doc.parts[target] else None  # two differing versions: which one counts?
    if kind == "claims_csv":
        rows = doc.parts[target]
        column = rng.randrange(len(rows[0]))
        differs = any(row[column:column + 1] != twin_row[column:column + 1] for row, twin_row in zip(rows, twin))
        for row, twin_row in zip(rows, twin):
            row.append(twin_row[column] if column < len(twin_row) else "")
        return (write_doc(doc), ".csv", f"claims column {rows[0][column]!r} twice", None,
                "rejected" if differs else None)
    if kind == "bundle":
        base = target.rsplit("/", 1)[-1]
        name = rng.choice([target, target, base.title(), f"backup/{base}", base.upper()])
        doc.extra.append((name, _csv_of(twin)))
        return write_doc(doc), ".zip", f"member {target} twice (as {name!r}), second one changed", None, expect
    folded = target.lower().replace(" ", "")
    taken = {name.lower() for name in doc.parts}
    names = [name for name in _FOLD_TWINS.get(folded, []) if name.lower() not in taken]
    if names and rng.random() < 0.6:
        name = rng.choice(names)
        doc.parts = {name: twin, **doc.parts} if rng.random() < 0.5 else {**doc.parts, name: twin}
        return write_doc(doc), ".xlsx", f"sheet {target} and {name!r} (same name once folded), contents differ", None, expect
    doc.parts["ZZDUPLICATE"] = twin  # then renamed in workbook.xml: no writer lets two sheets share a name
    data = rezip(write_doc(doc), lambda member, body: body.replace(
        b'name="ZZDUPLICATE"', f'name="{target}"'.encode()) if member == "xl/workbook.xml" else body)
    return data, ".xlsx", f"two sheets named {target!r}, contents differ", None, expect


def _csv_of(rows) -> bytes:
    from tests.fuzz_support import _csv

    return _csv(rows, "utf-8")


_APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02" + b"\x00" * 20 + b"com.apple.quarantine"


def member_path(rng):
    kind = rng.choice(["bundle", "bundle", "bundle", "xlsx"])
    data = base_bytes(kind, rng)
    how = rng.choice(["prefix", "prefix", "macosx", "directory", "long"])
    expect = None
    if kind == "xlsx":
        extra = rng.choice(["../../evil.txt", "/etc/passwd", "__MACOSX/xl/._workbook.xml", "xl/../../x.xml"])
        out = rezip(data, lambda name, body: body)
        return _append_member(out, extra, _APPLE_DOUBLE), ".xlsx", f"xlsx with an extra member {extra!r}"
    doc = read_doc(kind, data)
    if how == "prefix":
        prefix = rng.choice(["../", "../../", "a/b/c/", "/", "./", "C:\\Users\\xa\\", "Báo cáo tháng 6/", "..\\"])
        doc.parts = {prefix + name: rows for name, rows in doc.parts.items()}
        note = f"members under {prefix!r}"
    elif how == "macosx":
        doc.extra += [(f"__MACOSX/._{name}", _APPLE_DOUBLE) for name in doc.parts] + [(".DS_Store", b"\x00\x00\x00\x01Bud1")]
        note = "zipped on macOS (__MACOSX/._* and .DS_Store members)"
        expect = "accepted"  # the same valid bundle: the Finder's extra members are not the officer's
    elif how == "directory":
        folder = rng.choice(["bao_cao/", "2020/06/", "Huyện Đại Từ/"])
        doc.parts = {folder + name: rows for name, rows in doc.parts.items()}
        doc.extra.append((folder, b""))
        note = f"members nested in {folder!r} with its directory entry"
    else:
        doc.parts = {("x" * 900 + "/" + name if rng.random() < 0.5 else name): rows for name, rows in doc.parts.items()}
        note = "members under a 900-character folder name"
    return write_doc(doc), ".zip", note, None, expect


def _append_member(data: bytes, name: str, body: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), body)
    return buffer.getvalue()


def _odd(category: str):
    def mutate(rng):
        kind = rng.choice(BASES)
        doc = read_doc(kind, base_bytes(kind, rng))
        spreadsheet = kind in WORKBOOK_KINDS
        claims = kind.startswith("claims")
        targets = CLAIM_TARGETS[category] if claims else {
            "number": NUMBER_TARGETS, "period": PERIOD_TARGETS, "date": DATE_TARGETS, "code": CODE_TARGETS}[category]
        done = []
        for _ in range(rng.randint(1, 3)):
            table, key = rng.choice(targets)
            value = odd_value(category, rng, spreadsheet)
            if kind == "bundle" and key in ("ma_xa", "ky_bao_cao"):
                _replace_key_everywhere(doc, key, value, rng)
                done.append(f"{key}={value!r} in every member")
            elif set_field(doc, table, key, value, rng):
                done.append(f"{table.name}.{key}={value!r}")
        return write_doc(doc), EXTENSIONS[kind], f"{kind}: " + (", ".join(done) or "unchanged")
    mutate.__name__ = f"odd_{category}"
    return mutate


def _replace_key_everywhere(doc: Doc, key: str, value, rng) -> None:
    """A bundle's rows of one submission all carry its code and period: change them together."""
    info = doc.parts[doc.table_part(THONG_TIN)]
    column = info[0].index(key)
    old = rng.choice(info[1:])[column]
    for rows in doc.parts.values():
        if key in rows[0]:
            at = rows[0].index(key)
            for row in rows[1:]:
                if at < len(row) and row[at] == old:
                    row[at] = value


_FAR = [(1048575, 16383), (0, 16383), (1048575, 0), (99999, 25), (65535, 255), (5000, 50)]


def far_cell(rng):
    kind = rng.choice(WORKBOOK_KINDS)
    doc = read_doc(kind, base_bytes(kind, rng))
    sheet = rng.choice(list(doc.parts))
    if rng.random() < 0.25:  # only the declared dimension says so: what a reader that trusts it allocates
        data = rezip(write_doc(doc), lambda name, body: _declare_dimension(body) if name.startswith("xl/worksheets/") else body)
        return data, ".xlsx", "every sheet declares dimension A1:XFD1048576"
    row, column = rng.choice(_FAR)
    value = rng.choice(["x", 1, " ", "Ghi chú"])
    doc.far.append((sheet, row, column, value))
    return write_doc(doc), ".xlsx", f"{kind}: one cell {value!r} at row {row + 1}, column {column + 1} of {sheet}"


def _declare_dimension(body: bytes) -> bytes:
    import re

    return re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', body)


_FILLER = "Xã Đức Lương đề nghị xem xét công nhận đạt chuẩn nông thôn mới nâng cao. "


def huge_cell(rng):
    kind = rng.choice(BASES)
    doc = read_doc(kind, base_bytes(kind, rng))
    if kind in CSV_KINDS:
        size = rng.choice([131_073, 200_000, 1_000_000])
        text = (_FILLER * (size // len(_FILLER) + 1))[:size]
        table, key = rng.choice([(THONG_TIN, "ten_xa"), (THONG_TIN, "nguoi_lap"), (OCOP, "ten_san_pham"),
                                 (TIEU_CHI, "tieu_chi")]) if kind == "bundle" else (CLAIMS, "nguon")
        set_field(doc, table, key, text, rng) or set_field(doc, THONG_TIN, "ten_xa", text, rng)
        return write_doc(doc), EXTENSIONS[kind], f"{kind}: {table.name}.{key} of {size} characters"
    size = rng.choice([32_767, 2_000_000])
    marker = "HUGECELLMARKER"
    placed = set_field(doc, THONG_TIN, "nguoi_lap", marker, rng) if kind == "xlsx" else \
        set_field(doc, CLAIMS, "nguon", marker, rng)
    text = (_FILLER * (size // len(_FILLER) + 1))[:size].encode()
    data = rezip(write_doc(doc), lambda name, body: body.replace(marker.encode(), text)
                 if name == "xl/sharedStrings.xml" else body)
    return data, ".xlsx", f"{kind}: a cell of {size} characters" + ("" if placed else " (not placed)")


_LONG_WORDS = ("Báo cáo kết quả thực hiện Chương trình mục tiêu quốc gia xây dựng nông thôn mới "
               "xã Đức Lương huyện Đại Từ tỉnh Thái Nguyên kỳ báo cáo tháng sáu năm hai nghìn không trăm hai mươi "
               "bản chỉnh sửa lần thứ hai theo ý kiến của Văn phòng Điều phối nông thôn mới tỉnh")


def long_name(rng):
    if rng.random() < 0.7:
        kind, data = _base(rng)
        ext, note, expect = EXTENSIONS[kind], f"valid {kind}", "accepted"
    else:
        inner = rng.choice(["truncate", "odd_number", "wrong_sheet", "legacy_text"])
        case = make_case(inner, rng.randrange(1 << 30))
        data, ext, note, expect = case.data, "." + case.name.rsplit(".", 1)[-1], f"{case.key} ({case.note})", case.expect
    words = unicodedata.normalize("NFD" if rng.random() < 0.3 else "NFC", f"{rng.randrange(10**6)} {_LONG_WORDS}")
    budget = rng.randint(235, 250) - len(ext.encode())
    stem = words.encode()[:budget].decode("utf-8", errors="ignore").rstrip()
    return data, ext, f"{len((stem + ext).encode())}-byte name; {note}", stem + ext, expect


# TCVN3 (ABC) puts Vietnamese letters on Latin-1 code points; VNI writes a base letter and its marks
# as separate Latin-1 characters. Text saved by those fonts' Excel reaches us as this mojibake.
_TCVN3 = dict(zip("đĐăâêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ",
                  "®§¨©ª«¬­¸µ¶·¹ÊÇÈÉË¾»¼½ÆÐÌÎÏÑÕÒÓÔÖÝ×ØÜÞãßáâäèåæçéíêëìîóïñòôøõö÷ùúûüþý"))
_VNI_MARKS = {"\u0301": "ù", "\u0300": "ø", "\u0309": "û", "\u0303": "õ", "\u0323": "ï", "\u0302": "â",
              "\u0306": "ê", "\u031b": "ô"}


def tcvn3(text: str) -> str:
    return "".join(_TCVN3.get(ch, _TCVN3.get(ch.lower(), ch)) for ch in unicodedata.normalize("NFC", text))


def vni(text: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFD", text.replace("đ", "ñ").replace("Đ", "Ñ")):
        out.append(_VNI_MARKS.get(ch, ch))
    return "".join(out)


def cp1258_as_latin1(text: str) -> str:
    return _cp1258(text).decode("latin-1")


def _cp1258(text: str) -> bytes:
    """cp1258 keeps some letters precomposed (ơ, ư, â) and writes tones as combining marks."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", ch)
            head = unicodedata.normalize("NFC", base + (marks[0] if marks else ""))
            rest = marks[1:] if len(head) == 1 else marks
            out += (head if len(head) == 1 else base).encode("cp1258", errors="replace")
            out += "".join(rest).encode("cp1258", errors="replace")
    return bytes(out)


def legacy_text(rng):
    kind = rng.choice(BASES)
    doc = read_doc(kind, base_bytes(kind, rng))
    how = rng.choice(["tcvn3", "vni", "cp1258"] + (["utf-16", "cp1258 bytes"] if kind in CSV_KINDS else []))
    if how in ("utf-16", "cp1258 bytes") and kind in CSV_KINDS:
        if how == "cp1258 bytes":
            for rows in doc.parts.values():
                for row in rows:
                    row[:] = [_cp1258(c).decode("latin-1") if isinstance(c, str) else c for c in row]
            doc.encoding = "latin-1"  # the cp1258 bytes themselves
        else:
            doc.encoding = "utf-16"
        return write_doc(doc), EXTENSIONS[kind], f"{kind} saved as {how}"
    convert = {"tcvn3": tcvn3, "vni": vni, "cp1258": cp1258_as_latin1}[how]
    for rows in doc.parts.values():
        for row in rows:
            row[:] = [convert(c) if isinstance(c, str) and not c.isascii() else c for c in row]
    return write_doc(doc), EXTENSIONS[kind], f"{kind}: Vietnamese text as {how} mojibake"


def wrong_type(rng):
    kind, data = _base(rng)
    how = rng.choice(["empty", "random", "zip_magic", "ole2", "html", "renamed", "zip_of_zip", "header_only",
                      "empty_zip", "pdf", "gzip"])
    ext = rng.choice([".xlsx", ".zip", ".csv", ".xls"])
    body = {
        "empty": b"",
        "random": rng.randbytes(rng.randint(1, 4000)),
        "zip_magic": b"PK\x03\x04" + rng.randbytes(300),
        "ole2": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(2000),
        "html": "<html><table><tr><td>Mã xã</td><td>05776</td></tr></table></html>".encode(),
        "renamed": data,
        "header_only": "cap,ma_don_vi,tu_thang,den_thang,chi_so,gia_tri\n".encode(),
        "empty_zip": b"PK\x05\x06" + b"\x00" * 18,
        "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF",
        "gzip": b"\x1f\x8b\x08\x00" + rng.randbytes(200),
    }.get(how)
    if how == "zip_of_zip":
        import io
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"inner{EXTENSIONS[kind]}", data)
        body, ext = buffer.getvalue(), ".zip"
    return body, ext, f"{how} ({kind} base) named *{ext}", None, None if how == "renamed" else "rejected"


MUTATIONS = {
    "truncate": truncate, "byte_flip": byte_flip, "wrong_sheet": wrong_sheet, "duplicate_sheet": duplicate_sheet,
    "member_path": member_path, "odd_number": _odd("number"), "odd_period": _odd("period"),
    "odd_date": _odd("date"), "odd_code": _odd("code"), "far_cell": far_cell, "huge_cell": huge_cell,
    "long_name": long_name, "legacy_text": legacy_text, "wrong_type": wrong_type,
}


def make_case(mutation: str, seed: int) -> Case:
    """One mutated file; the same (mutation, seed) gives the same name and bytes. A class returns
    (bytes, extension, note[, name[, expected verdict]]): a verdict only where the contract leaves no
    doubt (a truncated zip is rejected, a macOS-zipped valid bundle is loaded)."""
    rng = random.Random(f"{mutation}:{seed}")
    data, ext, note, *more = MUTATIONS[mutation](rng)
    name, expect = (more + [None, None])[:2]
    return Case(mutation, seed, name or f"{mutation}_{seed}{ext}", data, note, expect)
