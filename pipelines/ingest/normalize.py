"""Turning cell text as people type it into canonical values.

Every function takes the raw cell (str, int, float, date or None) and returns the canonical text
or raises `ValueError` with a message an officer understands.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
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


def code(value, digits: int) -> str:
    """A GSO code with its leading zeros, also when Excel stored it as a number."""
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    if not text.isdigit() or len(text) > digits:
        raise ValueError(f"'{text}' không phải mã {digits} chữ số (not a {digits}-digit code)")
    return text.zfill(digits)


_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}((,\d{3}){2,}(\.\d+)?|(,\d{3})+\.\d+)$")


def number(value) -> tuple[str, int]:
    """A number written the Vietnamese or the machine way → (canonical decimal text, decimals as written).

    `45,5` and `45.5` are 45.5; `1.234.567` and `1.234` are thousands (the Vietnamese way);
    `12,345.6` is 12345.6; `72%` is 72. Decimals count what was written after the separator.
    """
    if isinstance(value, bool):
        raise ValueError(f"'{value}' không phải số (not a number)")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        text = cell_text(value)
        if text is None:
            raise ValueError("trống (empty)")
        return text, len(text.split(".")[1]) if "." in text else 0
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    compact = text.replace(" ", "").replace("\u00a0", "").rstrip("%")
    if _THOUSANDS_DOT.match(compact):
        compact = compact.replace(".", "").replace(",", ".")
    elif _THOUSANDS_COMMA.match(compact):
        compact = compact.replace(",", "")
    else:
        compact = compact.replace(",", ".")
    try:
        float(compact)
    except ValueError:
        raise ValueError(f"'{text}' không phải số (not a number)") from None
    if compact.count(".") > 1:
        raise ValueError(f"'{text}' không phải số (not a number)")
    decimals = len(compact.split(".")[1]) if "." in compact else 0
    return compact, decimals


def integer(value) -> str:
    text, decimals = number(value)
    if decimals and float(text) != int(float(text)):
        raise ValueError(f"'{cell_text(value)}' không phải số nguyên (not a whole number)")
    return str(int(float(text)))


def date(value) -> str:
    """`YYYY-MM-DD`, `dd/mm/yyyy` (also `-` or `.` separated) or a spreadsheet date → ISO text."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = cell_text(value)
    if text is None:
        raise ValueError("trống (empty)")
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"'{text}' không phải ngày (not a date: use YYYY-MM-DD or dd/mm/yyyy)")


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(\d{1,2})|q([1-4])|h([12])))?$")
_PERIOD_MONTH_FIRST = re.compile(r"^(\d{1,2})/(\d{4})$")


def period(value) -> str:
    """Reporting period → `YYYY-MM`, `YYYY-Qn`, `YYYY-Hn` or `YYYY`."""
    if isinstance(value, (dt.date, dt.datetime)):
        return f"{value.year:04d}-{value.month:02d}"
    text = (cell_text(value) or "").lower().replace(" ", "")
    match = _PERIOD_MONTH_FIRST.match(text)
    if match:
        text = f"{match.group(2)}-{match.group(1)}"
    match = _PERIOD.match(text)
    if not match:
        raise ValueError(
            f"'{cell_text(value)}' không phải kỳ báo cáo (not a period: YYYY-MM, YYYY-Qn, YYYY-H1, YYYY-H2, YYYY)"
        )
    year, month, quarter, half = match.groups()
    if month:
        if not 1 <= int(month) <= 12:
            raise ValueError(f"'{cell_text(value)}': tháng {month} không hợp lệ (no such month)")
        return f"{year}-{int(month):02d}"
    if quarter:
        return f"{year}-Q{quarter}"
    if half:
        return f"{year}-H{half}"
    return year


def period_last_month(canonical_period: str) -> str:
    """The month a period is attributed to: its last month (contract §1)."""
    year, _, part = canonical_period.partition("-")
    if not part:
        return f"{year}-12"
    if part.startswith("Q"):
        return f"{year}-{int(part[1]) * 3:02d}"
    if part.startswith("H"):
        return f"{year}-{int(part[1]) * 6:02d}"
    return canonical_period


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
    key = fold(cell_text(value) or "")
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


def commune_name_key(name: str) -> str:
    """A commune's name folded for comparison, without its type prefix: "Xã Tân Cương",
    "tan cuong" and "X. Tân Cương" are one key. The reference's `name_key` is made with it too."""
    words = nfc(name).strip().split()
    if len(words) > 1 and fold(words[0]) in _NAME_PREFIXES:
        words = words[1:]
    elif len(words) > 2 and fold(" ".join(words[:2])) in _NAME_PREFIXES:
        words = words[2:]
    return fold(" ".join(words))
