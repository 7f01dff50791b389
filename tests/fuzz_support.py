"""Mutated submission and claims files for the fuzz test (tests/test_fuzz.py) and long runs
(benchmarks/fuzz.py).

A case is `make_case(mutation, seed)`: the same two values give the same bytes, so any failure is
reproduced from them. Valid files come from the project's own writers (pipelines/samples.py);
content mutations read them back into `Doc` (sheets or CSV members as rows), change values or
structure, and write them again with xlsxwriter or zipfile; byte mutations act on the bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from functools import lru_cache

from python_calamine import CalamineWorkbook

from pipelines.ingest import normalize as n
from pipelines.ingest.schema import CLAIMS, CLAIM_METRICS, CHI_TIEU, OCOP, THONG_TIN, TIEU_CHI, TONG_HOP
from pipelines.samples import (Submission, bundle_bytes, claims_bytes, claims_workbook_bytes,
                               workbook_bytes)

# --- valid files ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def communes() -> list[dict]:
    """Real communes (legacy era, type Xã) of Thái Nguyên (19): valid files name only these."""
    from pipelines.reference.admin_units import admin_units

    units = admin_units()
    units = units[(units.era == "legacy") & (units.loai_xa == "Xã") & (units.ma_tinh == "19")]
    return units.sort_values("ma_xa")[["ma_xa", "ten_xa", "ma_tinh"]].to_dict("records")


def a_submission(rng: random.Random) -> Submission:
    unit = rng.choice(communes())
    month = rng.randint(1, 12)
    met = rng.randint(8, 19)
    stars = rng.choice([3, 4])
    ocop = [{"ma_san_pham": f"OCOP-{unit['ma_xa']}-{i}", "ten_san_pham": f"Chè {unit['ten_xa']} {i}",
             "nhom_san_pham": "Thực phẩm", "chu_the": "HTX chè", "loai_chu_the": "HTX",
             "diem": {3: 60, 4: 75}[stars], "so_sao": stars, "so_quyet_dinh": f"{10 + i}/QĐ-UBND",
             "ngay_quyet_dinh": "2019-11-20", "cap_danh_gia": "huyện"} for i in range(rng.randint(1, 2))]
    return Submission(
        ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh="19", ky_bao_cao=f"2020-{month:02d}",
        bo_tieu_chi="2016-2020", ngay_lap=f"2020-{month:02d}-{rng.randint(10, 28)}",
        criteria_met=set(rng.sample(range(1, 20), met)), ocop=ocop,
        totals={"so_tieu_chi_dat": met, "danh_hieu": "NTM" if met == 19 else "Chưa đạt",
                "so_san_pham_ocop": len(ocop), f"so_san_pham_{stars}_sao": len(ocop),
                "so_mo_hinh_sxkd_moi": rng.randint(0, 3), "von_ke_hoach_trieu_dong": rng.randint(8, 40) * 100,
                "von_giai_ngan_trieu_dong": rng.randint(1, 7) * 100, "xi_mang_tan": 12.5},
        sub_indicators=[{"ma_chi_tieu": "10.1", "gia_tri": 45.5, "don_vi": "%"},
                        {"ma_chi_tieu": "17.2", "gia_tri": 98, "don_vi": "%"}],
    )


def some_claims(rng: random.Random) -> list[dict]:
    """Counts whole, rates and means as officers write them (`72%`, `14,5`)."""
    first = rng.randint(1, 6)
    return [dict(cap="tinh", ma_don_vi="19", tu_thang=f"2020-{first:02d}", den_thang="2020-06", chi_so=metric,
                 gia_tri=rng.choice([f"{rng.randint(0, 100)}%", "14,5", 72]) if metric.startswith(("ty_le", "binh_quan"))
                 else rng.randint(0, 200), nguon="Báo cáo sơ kết của tỉnh")
            for metric in rng.sample(CLAIM_METRICS, rng.randint(1, 5))]


BASES = ("xlsx", "bundle", "claims_csv", "claims_xlsx")
EXTENSIONS = {"xlsx": ".xlsx", "bundle": ".zip", "claims_csv": ".csv", "claims_xlsx": ".xlsx"}


def base_bytes(kind: str, rng: random.Random) -> bytes:
    if kind == "xlsx":
        return workbook_bytes(a_submission(rng), labels=rng.random() < 0.3, ma_xa_as_number=rng.random() < 0.2)
    if kind == "bundle":
        submissions, seen = [], set()
        for _ in range(rng.randint(1, 3)):
            sub = a_submission(rng)
            if (sub.ma_xa, sub.ky_bao_cao) not in seen:
                seen.add((sub.ma_xa, sub.ky_bao_cao))
                submissions.append(sub)
        return bundle_bytes(submissions)
    if kind == "claims_csv":
        return claims_bytes(some_claims(rng))
    return claims_workbook_bytes(some_claims(rng), labels=rng.random() < 0.3)


@dataclass(frozen=True)
class Case:
    mutation: str  # the mutation class ("valid" for a valid neighbour)
    seed: int
    name: str
    data: bytes = field(repr=False)
    note: str = ""  # what was done, for the report
    expect: str | None = None  # "accepted" or "rejected" where the contract decides; None: either will do

    @property
    def key(self) -> str:
        return f"{self.mutation}:{self.seed}"


def valid_case(seed: int) -> Case:
    rng = random.Random(f"valid:{seed}")
    kind = rng.choice(BASES)
    return Case("valid", seed, f"valid_{seed}_{kind}{EXTENSIONS[kind]}", base_bytes(kind, rng), kind, "accepted")


# --- documents: a file as named tables of rows ----------------------------------------------------

@dataclass
class DateNumber:
    """A number in a cell formatted as a date (what Excel holds for a typed date)."""
    value: float


@dataclass
class Doc:
    kind: str
    parts: dict[str, list[list]]  # sheet or member name → rows, in file order
    extra: list[tuple[str, bytes]] = field(default_factory=list)  # bundle members written as they are
    far: list[tuple[str, int, int, object]] = field(default_factory=list)  # xlsx: (sheet, row, col, value)
    encoding: str = "utf-8"

    def table_part(self, table) -> str | None:
        """The part holding a contract table (by sheet name or CSV member name)."""
        wanted = {n.fold(table.sheet), n.fold(table.name)}
        return next((name for name in self.parts if n.fold(name.rsplit("/", 1)[-1].removesuffix(".csv")) in wanted), None)


def read_doc(kind: str, data: bytes) -> Doc:
    if kind in ("xlsx", "claims_xlsx"):
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return Doc(kind, {name: [list(r) for r in book.get_sheet_by_name(name).to_python(skip_empty_area=False)]
                          for name in book.sheet_names})
    if kind == "bundle":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return Doc(kind, {i.filename: list(csv.reader(io.StringIO(archive.read(i).decode("utf-8"))))
                              for i in archive.infolist()})
    return Doc(kind, {"chi_so.csv": list(csv.reader(io.StringIO(data.decode("utf-8"))))})


def _csv(rows: list[list], encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding, errors="replace")


def write_doc(doc: Doc) -> bytes:
    if doc.kind in ("xlsx", "claims_xlsx"):
        return _xlsx(doc)
    if doc.kind == "bundle":
        buffer = io.BytesIO()
        with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            warnings.simplefilter("ignore")  # duplicate member names are the point of some cases
            for name, rows in doc.parts.items():
                archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), _csv(rows, doc.encoding))
            for name, data in doc.extra:
                archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
        return buffer.getvalue()
    [rows] = doc.parts.values()
    return _csv(rows, doc.encoding)


def _xlsx(doc: Doc) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    book.set_properties({"created": dt.datetime(2020, 1, 1)})
    date_format = book.add_format({"num_format": "dd/mm/yyyy"})
    sheets = {}
    for name, rows in doc.parts.items():
        sheet = sheets[name] = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                _write_cell(sheet, r, c, value, date_format)
    for name, r, c, value in doc.far:
        _write_cell(sheets[name], r, c, value, date_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xlsxwriter warns about strings it cuts at Excel's limit
        book.close()
    return buffer.getvalue()


def _write_cell(sheet, r, c, value, date_format) -> None:
    if value is None or value == "":
        return
    if isinstance(value, DateNumber):
        if value.value != value.value:
            sheet.write_string(r, c, "nan")
        else:
            sheet.write_number(r, c, value.value, date_format)
    elif isinstance(value, bool) or isinstance(value, str):
        sheet.write_string(r, c, str(value))
    elif isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            sheet.write_string(r, c, repr(value))  # a spreadsheet holds no NaN or infinity as a number
        else:
            sheet.write_number(r, c, value)
    elif isinstance(value, (dt.date, dt.datetime)):
        sheet.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_format)
    else:
        sheet.write_string(r, c, str(value))


def rezip(data: bytes, edit) -> bytes:
    """A zip (or xlsx) rewritten member by member: `edit(name, bytes)` → bytes, or None to drop it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            changed = edit(info.filename, source.read(info))
            if changed is not None:
                target.writestr(zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0)), changed)
    return out.getvalue()


# --- where a field's value sits ------------------------------------------------------------------

def _matches(cell, f) -> bool:
    return isinstance(cell, str) and n.fold(cell) in (n.fold(f.key), n.fold(f.label))


def set_field(doc: Doc, table, key: str, value, rng: random.Random) -> bool:
    """Put `value` where one row's `key` of `table` is; False when the file has no such cell."""
    part = doc.table_part(table)
    rows = doc.parts.get(part) if part else None
    if not rows:
        return False
    f = table.field(key)
    if table.key_value and doc.kind == "xlsx":  # two columns, truong / gia_tri
        found = [row for row in rows[1:] if row and _matches(row[0], f)]
        if not found:
            return False
        row = found[0]
        row.extend([""] * (2 - len(row)))
        row[1] = value
        return True
    column = next((i for i, cell in enumerate(rows[0]) if _matches(cell, f)), None)
    data_rows = [row for row in rows[1:] if any(c not in (None, "") for c in row)]
    if column is None or not data_rows:
        return False
    row = rng.choice(data_rows)
    row.extend([""] * (column + 1 - len(row)))
    row[column] = value
    return True


NUMBER_TARGETS = [(TONG_HOP, "so_tieu_chi_dat"), (TONG_HOP, "so_san_pham_ocop"), (TONG_HOP, "von_ke_hoach_trieu_dong"),
                  (TONG_HOP, "xi_mang_tan"), (TONG_HOP, "so_mo_hinh_sxkd_moi"), (OCOP, "diem"), (OCOP, "so_sao"),
                  (TIEU_CHI, "tieu_chi"), (CHI_TIEU, "gia_tri"), (THONG_TIN, "phien_ban_mau")]
PERIOD_TARGETS = [(THONG_TIN, "ky_bao_cao")]
DATE_TARGETS = [(THONG_TIN, "ngay_lap"), (OCOP, "ngay_quyet_dinh")]
CODE_TARGETS = [(THONG_TIN, "ma_xa"), (THONG_TIN, "ma_tinh")]
CLAIM_TARGETS = {"number": [(CLAIMS, "gia_tri")], "period": [(CLAIMS, "tu_thang"), (CLAIMS, "den_thang")],
                 "code": [(CLAIMS, "ma_don_vi")], "date": [(CLAIMS, "den_thang")]}

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")

ODD_NUMBERS = ["1e30", "-1e30", "2147483648", "-2147483649", "9223372036854775808", "99999999999999999999",
               "nan", "NaN", "inf", "-inf", "Infinity", "-0", "-0.0", "1e-30", "1e308", "1e309", "９", "１２",
               "٩", "١٢", "۱۲", "0x10", "1_000", "+5", "5e", "1,5", "1.234.567", "-1", "12.0000000000000000001",
               "١٬٢٣٤", "٣٫٥", "1 000", "½", "²", "Ⅻ", "௧௨"]
ODD_NUMBER_CELLS = [1e30, -1e30, 2147483648.0, 9.3e18, -0.0, 1e-30, 1e308, 5e-324, float("nan"), float("inf"), -1.0, 0.5]
ODD_PERIODS = ["２０２０-０６", "٢٠٢٠-٠٦", "2020-０６", "۲۰۲۰-۰۶", "2099-01", "2020-13", "2020-00", "0000-01", "9999-12",
               "2020-Q5", "2020-H3", "2020-6", "06/2020", "1e30", "nan", "-0", "2147483648", "20200-01", "2020",
               "2020-Ｑ２", "1899-12", "2020-001"]
ODD_DATES = ["２０２０-０６-２５", "٢٥/٠٦/٢٠٢٠", "25/06/２０２０", "31/02/2020", "2020-02-30", "0001-01-01", "9999-12-31",
             "2099-01-01", "1e30", "nan", "-0", "2147483648", "25/06/20", "2020-6-25", "1900-02-29"]
ODD_DATE_CELLS = [1e30, 2147483648.0, -1.0, 2958466.0, 2958465.0, 0.0, 60.0, 1e-30, float("nan"), 43000.5]
ODD_CODES = ["０５７７６", "٠٥٧٧٦", "99999", "00000", "1e30", "-0", "nan", "2147483648", "05776.0", "5776", "0577６",
             "٠٥", "１９", "1e3"]


def odd_value(category: str, rng: random.Random, spreadsheet: bool):
    if spreadsheet and category in ("number", "code") and rng.random() < 0.4:
        return rng.choice(ODD_NUMBER_CELLS)
    if spreadsheet and category == "date" and rng.random() < 0.5:
        return DateNumber(rng.choice(ODD_DATE_CELLS))
    return rng.choice({"number": ODD_NUMBERS, "period": ODD_PERIODS, "date": ODD_DATES, "code": ODD_CODES}[category])
