"""The rules a file is checked against beyond its own content: the reference units, the roster and
the file's receipt. One function for both `ntm validate` (reference from the package and the home's
roster, receipt = now) and `ntm run` (the warehouse's `ref.admin_units` and `ref.roster`, the
file's receipt), so both give the same verdict.

- the commune code must be a unit of its period's era (`rules.era_of_month`) or be in the roster;
- where the roster lists communes of the code's province for that month, the code should be one
  (a warning: the file loads and the warehouse's out-of-scope check holds it until the roster does);
- `ma_tinh`, when given, must be the code's province; `ten_xa`, when given, should match (warning);
- a period cannot end in a month after the one the file was received in (`period_after_receipt`), and a submission
  cannot be prepared more than a day after it (`ngay_lap_after_receipt`): such a date is a typing
  slip, and it would win the supersede ranking for ever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipelines import rules
from pipelines.ingest import normalize as n
from pipelines.ingest.readers import ParsedFile


@dataclass
class Reference:
    units: dict[tuple[str, str], tuple[str, str, str]]  # (era, ma_xa) → (ma_tinh, name_key, ten_xa)
    roster: list[tuple[str, str, str | None, str | None]]  # (ma_xa, ma_tinh, tu_thang, den_thang)
    _by_month: dict = field(default_factory=dict, repr=False)

    def roster_of(self, month: str) -> tuple[set[str], set[str]]:
        """Roster codes and provinces that apply in a month (`YYYY-MM`)."""
        if month not in self._by_month:
            rows = [(code, province) for code, province, first, last in self.roster
                    if (not first or first <= month) and (not last or month <= last)]
            self._by_month[month] = ({c for c, _ in rows}, {p for _, p in rows if p})
        return self._by_month[month]

    @classmethod
    def from_rows(cls, units, roster) -> "Reference":
        return cls({(era, code): (province, key, name) for era, code, province, key, name in units},
                   [tuple(row) for row in roster])

    @classmethod
    def from_package(cls, roster_file: Path) -> "Reference":
        """What `ntm validate` reads: the units package and the valid rows of the home's roster file."""
        from pipelines.reference.roster import read_roster

        roster = read_roster(roster_file)
        return cls.from_rows(_package_units(), roster[["ma_xa", "ma_tinh", "tu_thang", "den_thang"]]
                             .astype(object).where(roster.notna(), None).itertuples(index=False))

    @classmethod
    def from_warehouse(cls, conn, roster_file: Path) -> "Reference":
        """What a run reads: the reference the warehouse holds (the `ref` assets run first); a
        warehouse without them (a bare `ingest_landing`) falls back to the package and the file."""
        present = {name for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'ref'").fetchall()}
        if "admin_units" not in present or "roster" not in present:
            return cls.from_package(roster_file)
        units = conn.execute("select era, ma_xa, ma_tinh, name_key, ten_xa from ref.admin_units").fetchall()
        columns = {name for (name,) in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'ref' "
            "and table_name = 'roster'").fetchall()}
        span = ", ".join(c if c in columns else "null" for c in ("tu_thang", "den_thang"))
        roster = conn.execute(f"select ma_xa, ma_tinh, {span} from ref.roster").fetchall()
        return cls.from_rows(units, roster)


@lru_cache(maxsize=1)
def _package_units() -> tuple:
    from pipelines.reference.admin_units import admin_units

    frame = admin_units()
    return tuple(frame[["era", "ma_xa", "ma_tinh", "name_key", "ten_xa"]].itertuples(index=False, name=None))


def check_reference(parsed: ParsedFile, reference: Reference, received: dt.datetime) -> None:
    """Add the reference and receipt problems of a parsed file (in place)."""
    received_day = received.date()
    # A period may be reported during its last month (a report prepared on 25 November for November,
    # a province's "7 tháng đầu năm" stated in late July); one whose last month has not begun is a slip.
    received_month = received_day.strftime("%Y-%m")
    latest_ngay_lap = (received_day + dt.timedelta(days=1)).isoformat()
    for claim in parsed.records("claims"):
        month = claim.get("den_thang") or ""
        if len(month) >= 7 and month[:7] > received_month:
            parsed.problem(claim["source_sheet"], claim["source_row"], "den_thang", "period_after_receipt",
                           f"đến tháng {month} chưa bắt đầu khi nhận tệp ngày {received_day:%d/%m/%Y} "
                           f"(the range ends in a month after the file was received)")
    for sub in parsed.records("submissions"):
        code, month, ky = sub["ma_xa"], sub["thang"], sub["ky_bao_cao"]

        def problem(column, rule, message, severity="error"):
            parsed.problem(sub["source_sheet"], sub["source_row"], column, rule, message, severity, code, ky)

        if month[:7] > received_month:
            problem("ky_bao_cao", "period_after_receipt",
                    f"kỳ {ky} chưa bắt đầu khi nhận tệp ngày {received_day:%d/%m/%Y} "
                    f"(the period ends in a month after the file was received)")
        ngay_lap = sub.get("ngay_lap") or ""
        if ngay_lap > latest_ngay_lap:
            problem("ngay_lap", "ngay_lap_after_receipt",
                    f"ngày lập {ngay_lap} sau ngày nhận tệp {received_day.isoformat()} quá một ngày "
                    f"(prepared after the file was received)")
        era = rules.era_of_month(month)
        unit = reference.units.get((era, code))
        roster_codes, roster_provinces = reference.roster_of(month[:7])
        if unit is None and code not in roster_codes:
            problem("ma_xa", "unknown_commune",
                    f"mã xã {code} không có trong danh mục đơn vị hành chính ({era}) (unknown commune code)")
            continue
        province = unit[0] if unit else None
        if roster_codes and code not in roster_codes and (province is None or province in roster_provinces):
            # A warning, and the file loads: the roster can be mended after the file arrived, and the
            # warehouse's SUBMISSION_OUT_OF_SCOPE (an error issue) then resolves by itself.
            problem("ma_xa", "out_of_roster",
                    f"xã {code} không có trong danh sách xã phải báo cáo: sẽ là lỗi SUBMISSION_OUT_OF_SCOPE "
                    f"cho đến khi danh sách có xã này (commune outside the roster: an out-of-scope error "
                    f"issue in the warehouse until the roster lists it)", "warning")
        if unit and sub.get("ten_xa") and n.commune_name_key(sub["ten_xa"]) != unit[1]:
            problem("ten_xa", "name_mismatch", f"tên '{sub['ten_xa']}' không khớp mã {code} ({unit[2]})", "warning")
        if unit and sub.get("ma_tinh") and sub["ma_tinh"] != province:
            problem("ma_tinh", "province_mismatch",
                    f"mã tỉnh {sub['ma_tinh']} không khớp xã {code} (thuộc tỉnh {province})")
