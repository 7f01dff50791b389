"""Turning cell text as people type it into canonical values.

Every function takes the raw cell (str, int, float, date or None) and returns the canonical text
or raises `ValueError` with a message an officer understands.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=1 << 16)  # headers, keys and status words repeat in every file of a batch
def fold(text: str) -> str:
    """Compare key: no diacritics, no case, no spaces, underscores or punctuation."""
    decomposed = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub("", bare.lower())


def cell_text(value) -> str | None:
    """Canonical text of a cell, or None when blank. Whole floats lose their `.0`."""
    if type(value) is str:  # the common case first: this runs for every cell of every file
        text = value.strip()
        if text.isascii():
            return text or None
        return unicodedata.normalize("NFC", text).strip() or None
    if value is None:
        return None
    if type(value) is Shown:
        return value.text
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()[:10]
    text = nfc(str(value)).strip()
    return text or None


# --- digits and numbers -------------------------------------------------------------------------

def ascii_digits(text: str) -> str:
    """Fullwidth (０-９), Arabic-Indic (٠-٩), Extended Arabic-Indic (۰-۹) and every other Unicode decimal
    digit → ASCII; fullwidth punctuation (％ ． ， － ／) → ASCII. Used wherever a number, code, period
    or date is parsed (not on every cell: names never need it). ASCII text costs one check."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch.isdecimal():  # exactly the Nd digits, all of which have a decimal value
            out.append(str(unicodedata.decimal(ch)))
        elif "\uff01" <= ch <= "\uff5e":  # the fullwidth block mirrors ASCII 0x21-0x7E
            out.append(chr(ord(ch) - 0xFEE0))
        elif ch in "\u3000\u00a0\u202f":
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _foreign(text: str) -> str:
    """Why text that should be digits is not: the first character outside ASCII, named."""
    ch = next((c for c in text if not c.isascii()), "")
    return f" (ký tự '{ch}' U+{ord(ch):04X} không hợp lệ; character not allowed)" if ch else ""


def code(value, digits: int) -> str:
    """A GSO code with its leading zeros, also when Excel stored it as a number."""
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    ascii_text = ascii_digits(text)
    if not (ascii_text.isascii() and ascii_text.isdigit()) or len(ascii_text) > digits:
        raise ValueError(f"'{text}' không phải mã {digits} chữ số (not a {digits}-digit code){_foreign(ascii_text)}")
    return ascii_text.zfill(digits)


def unit_code(value) -> str:
    """A code kept as text (claims' `ma_don_vi`, `ma_chi_tieu`): digits made ASCII, the rest kept."""
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    return ascii_digits(text)


# How a number's reading is decided where separators are ambiguous (`72.125`): a decimal field
# (percentages, means, capital, scores) reads a single separator as the decimal point; a count reads
# it as thousands. Either way the reader reports a warning naming the reading taken.
DECIMAL, COUNT = "decimal", "count"
MAX_COUNT = 10**9
MAX_MAGNITUDE = Decimal(10) ** 15  # beyond this doubles lose whole numbers; DECIMAL(38,10) holds it with room
_MAX_MAGNITUDE_FLOAT = 1e15
AMBIGUOUS_NUMBER = "ambiguous_number"


class Noted(str):
    """A parsed value the reader keeps but reports: `rule` and `note` become a warning problem."""

    rule: str
    note: str


def _noted(text: str, rule: str, note: str) -> Noted:
    value = Noted(text)
    value.rule, value.note = rule, note
    return value


@dataclass(frozen=True)
class Shown:
    """A workbook number as its cell's number format displays it (contract §2): 0.7203 in a `0.00%`
    cell is `72.03` with 2 decimals, shown `72.03%`. Made by the reader for number fields only."""

    text: str
    decimals: int
    display: str


def shown(value, decimals: int, percent: bool):
    """The number a cell shows under a format with `decimals` places (× 100 for a percent format),
    rounded as Excel rounds (half away from zero). Anything that is not a finite number is returned as is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value in (float("inf"), float("-inf")) or abs(value) >= 1e20:
        return value  # left for the parser to reject with its own message
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if percent:
        exact = exact.scaleb(2)
    with localcontext() as context:
        context.prec = 64  # up to 10^20 with Excel's 30 decimals
        rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # -0.00 shows as 0.00 here
    text = format(rounded, "f")
    return Shown(text, decimals, text + ("%" if percent else ""))


def _general(value: float) -> Decimal:  # value within ±10^15
    """A float as Excel's General format shows it in a standard column: at most 11 characters, so a
    formula's cached 72.03389830508475 is the 72.03389831 the officer saw (and 0.1+0.2 is 0.3)."""
    exact = Decimal(repr(value))
    whole = len(str(int(abs(value)))) + (value < 0)
    places = max(0, 10 - whole)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize()


def _plain(number: Decimal) -> tuple[str, int]:
    if number == 0:
        number = abs(number)  # -0 is 0 (keeping its written decimals)
    text = format(number, "f")
    return text, len(text.split(".")[1]) if "." in text else 0


_PLAIN = re.compile(r"^(0|[1-9]\d{0,14})(?:[.,](\d+))?$")
_NUMBER_TEXT = re.compile(r"^[+-]?[.,]?[0-9][0-9.,]*$")
_THOUSANDS_DOT = re.compile(r"^[+-]?[1-9]\d{0,2}(\.\d{3})+(,\d+)?$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}((,\d{3}){2,}(\.\d+)?|(,\d{3})+\.\d+)$")
_ONE_SEPARATOR_THREE_DIGITS = re.compile(r"^[+-]?[1-9]\d{0,2}[.,]\d{3}$")


def _bounded(number: Decimal, text: str) -> Decimal:
    if abs(number) > MAX_MAGNITUDE:
        raise ValueError(f"'{text}' quá lớn (number too large: beyond ±10^15)")
    return number


def number(value, kind: str = DECIMAL) -> tuple[str, int]:
    """A number written the Vietnamese or the machine way → (canonical decimal text, decimals as written).

    `45,5` and `45.5` are 45.5; `1.234.567` and `1.234,5` use the dot for thousands (the Vietnamese
    way); `12,345.6` is 12345.6; `72%` is 72. Decimals count what was written after the separator.
    A single separator followed by exactly three digits (`72.125`, `72,125`) is ambiguous: `kind`
    decides (DECIMAL: decimal point; COUNT: thousands) and the text comes back `Noted` with a warning.
    Non-ASCII digits are read as their ASCII twins. `nan`, `inf`, exponents and numbers beyond ±10^15
    are errors. A workbook float is read as the General format shows it; a `Shown` as its format shows it.
    """
    if type(value) is Shown:
        _bounded(Decimal(value.text), value.display)
        return value.text, value.decimals
    if isinstance(value, bool):
        raise ValueError(f"'{value}' không phải số (not a number)")
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"'{value}' không phải số (not a number)")
        if abs(value) > _MAX_MAGNITUDE_FLOAT:
            raise ValueError(f"'{value}' quá lớn (number too large: beyond ±10^15)")
        if value == int(value):  # the common case (counts stored as numbers): no Decimal needed
            return str(int(value)), 0
        short = repr(value)
        if len(short) <= 11 and "e" not in short:  # fits General's 11 characters: shown as stored
            return short, len(short) - short.index(".") - 1
        return _plain(_general(value))
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    compact = ascii_digits(text).replace(" ", "")
    if compact.endswith("%"):
        compact = compact[:-1]
    plain = _PLAIN.match(compact)
    if plain and (plain.group(2) is None or len(plain.group(2)) != 3):  # the common case, unambiguous
        return compact.replace(",", "."), len(plain.group(2) or "")
    if not _NUMBER_TEXT.match(compact):
        raise ValueError(f"'{text}' không phải số (not a number: digits with , or . only){_foreign(compact)}")
    note = None
    if _ONE_SEPARATOR_THREE_DIGITS.match(compact):
        separator = "." if "." in compact else ","
        as_decimal = compact.replace(",", ".")
        canonical = as_decimal if kind == DECIMAL else compact.replace(separator, "")
        reading = "dấu thập phân (decimal point)" if kind == DECIMAL else "dấu phân cách hàng nghìn (thousands)"
        note = (f"'{text}' không rõ nghĩa, đọc '{separator}' là {reading}: {canonical}; viết rõ hơn để tránh "
                f"nhầm (ambiguous number, read as {canonical})")
        compact = canonical
    elif _THOUSANDS_DOT.match(compact):
        compact = compact.replace(".", "").replace(",", ".")
    elif _THOUSANDS_COMMA.match(compact):
        compact = compact.replace(",", "")
    else:
        compact = compact.replace(",", ".")
    if compact.count(".") > 1 or compact.endswith("."):
        raise ValueError(f"'{text}' không phải số (not a number)")
    try:
        parsed = _bounded(Decimal(compact), text)
    except InvalidOperation:
        raise ValueError(f"'{text}' không phải số (not a number)") from None
    text_out, decimals = _plain(parsed)  # Decimal keeps the written decimals: 72,0 → 72.0
    return (_noted(text_out, AMBIGUOUS_NUMBER, note) if note else text_out), decimals


def check_count(text: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """A canonical number (from `number`) that must be a whole number in [low, high]."""
    parsed = Decimal(text)
    if parsed != parsed.to_integral_value():
        raise ValueError(f"'{text}' không phải số nguyên (not a whole number)")
    if not low <= parsed <= high:
        raise ValueError(f"{text} ngoài khoảng {low}..{high} (out of range)")
    return int(parsed)


def integer(value, low: int = 0, high: int = MAX_COUNT) -> str:
    """A whole number in [low, high] (counts: 0..10^9); a `Noted` reading stays noted."""
    text, _ = number(value, COUNT)
    whole = str(check_count(text, low, high))
    return _noted(whole, text.rule, text.note) if type(text) is Noted else whole


# Years a date or period of the programme can fall in: NTM began in 2010 (Decision 800/QĐ-TTg).
# Anything else is a slip (0001-01-01, 2099 typed for 2019) that would sort before or after every
# real report.
FIRST_YEAR, LAST_YEAR = 2010, 2099


def in_programme_years(year: int, text, earliest: int = FIRST_YEAR) -> None:
    if not earliest <= year <= LAST_YEAR:
        raise ValueError(f"'{text}': năm {year} ngoài {earliest}-{LAST_YEAR} (year outside the programme's years)")


def date(value) -> str:
    """`YYYY-MM-DD`, `dd/mm/yyyy` (also `-` or `.` separated) or a spreadsheet date → ISO text."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        in_programme_years(value.year, value.isoformat())
        return value.isoformat()
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    text = ascii_digits(text)
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            parsed = dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        in_programme_years(parsed.year, text)
        return parsed.isoformat()
    raise ValueError(f"'{text}' không phải ngày (not a date: use YYYY-MM-DD or dd/mm/yyyy)")


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{1,2})|q([1-4])|h([12])))?$")
_PERIOD_MONTH_FIRST = re.compile(r"^(\d{1,2})/(\d{4})$")


def period(value) -> str:
    """Reporting period → `YYYY-MM`, `YYYY-Qn`, `YYYY-Hn` or `YYYY`."""
    if isinstance(value, (dt.date, dt.datetime)):
        in_programme_years(value.year, value.isoformat()[:7])
        return f"{value.year:04d}-{value.month:02d}"
    text = ascii_digits(cell_text(value) or "").lower().replace(" ", "")
    match = _PERIOD_MONTH_FIRST.match(text)
    if match:
        text = f"{match.group(2)}-{match.group(1)}"
    match = _PERIOD.match(text)
    if not match:
        raise ValueError(
            f"'{cell_text(value)}' không phải kỳ báo cáo (not a period: YYYY-MM, YYYY-Qn, YYYY-H1, YYYY-H2, YYYY)"
        )
    year, month, quarter, half = match.groups()
    in_programme_years(int(year), cell_text(value))
    if month:
        if not 1 <= int(month) <= 12:
            raise ValueError(f"'{cell_text(value)}': tháng {month} không hợp lệ (no such month)")
        return f"{year}-{int(month):02d}"
    if quarter:
        return f"{year}-Q{quarter}"
    if half:
        return f"{year}-H{half}"
    return year


def period_months(canonical_period: str) -> tuple[str, str]:
    """The first and last month a period covers (`2024-Q2` → `2024-04`, `2024-06`)."""
    year, _, part = canonical_period.partition("-")
    if part and part[0] not in "QH":
        return canonical_period, canonical_period
    length = {"": 12, "Q": 3, "H": 6}[part[:1]]
    last = int(part[1]) * length if part else 12
    return f"{year}-{last - length + 1:02d}", f"{year}-{last:02d}"


def period_last_month(canonical_period: str) -> str:
    """The month a period is attributed to: its last month (contract §1)."""
    return period_months(canonical_period)[1]


def month(value) -> str:
    """A month `YYYY-MM` (claims' `tu_thang`, `den_thang`)."""
    canonical = period(value)
    if len(canonical) != 7 or canonical[5] in "QH":
        raise ValueError(f"'{cell_text(value)}' không phải tháng (not a month: YYYY-MM)")
    return canonical


_MET = {"dat", "x", "1", "true", "co", "yes"}
_NOT_MET = {"chuadat", "", "0", "false", "khong", "no", "khongdat"}


def status(value) -> str:
    """Criterion status → `true` (Đạt) or `false` (Chưa đạt); empty means not met (contract §1)."""
    key = fold(ascii_digits(cell_text(value) or ""))
    if key in _MET:
        return "true"
    if key in _NOT_MET:
        return "false"
    raise ValueError(f"'{cell_text(value)}' không phải trạng thái (use Đạt or Chưa đạt)")


def choice(options: dict[str, str]):
    """A parser that accepts any spelling of a fixed set of values, returning the canonical one."""
    by_fold = {fold(key): canonical for key, canonical in options.items()}

    def parse(value) -> str:
        text = cell_text(value)
        if text is None:
            raise ValueError("trống (empty)")
        try:
            return by_fold[fold(text)]
        except KeyError:
            allowed = ", ".join(sorted(set(options.values())))
            raise ValueError(f"'{text}' không hợp lệ (expected one of: {allowed})") from None

    return parse


def text(value) -> str:
    result = cell_text(value)
    if result is None:
        raise ValueError("trống (empty)")
    return result


_NAME_PREFIXES = ("xa", "phuong", "thitran", "dackhu", "x", "p", "tt")


@lru_cache(maxsize=1 << 16)  # every submission's ten_xa is checked against the reference
def commune_name_key(name: str) -> str:
    """A commune's name folded for comparison, without its type prefix: "Xã Tân Cương",
    "tan cuong" and "X. Tân Cương" are one key. The reference's `name_key` is made with it too."""
    words = nfc(name).strip().split()
    if len(words) > 1 and fold(words[0]) in _NAME_PREFIXES:
        words = words[1:]
    elif len(words) > 2 and fold(" ".join(words[:2])) in _NAME_PREFIXES:
        words = words[2:]
    return fold(" ".join(words))
