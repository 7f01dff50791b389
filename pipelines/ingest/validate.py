"""`ntm validate FILE`: every problem an officer can fix before sending, without loading anything.

The file's own rules (readers.py), then the reference: the commune code must exist in the unit
list of the period's era and, where the home has a roster, be in it; a name must match its code.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.ingest import normalize as n
from pipelines.ingest.readers import Problem, parse_path
from pipelines import rules
from pipelines.reference.admin_units import admin_units
from pipelines.reference.roster import read_roster
from pipelines.settings import HomePaths

def validate_file(path: Path, paths: HomePaths) -> list[Problem]:
    if not path.exists():
        return [Problem(path.name, None, None, None, "missing_file", f"không tìm thấy tệp (no such file: {path})")]
    parsed = parse_path(path)
    problems = list(parsed.problems)
    submissions = parsed.rows.get("submissions", [])
    if not submissions:
        return problems
    units = admin_units().set_index(["era", "ma_xa"])
    roster = read_roster(paths.roster_file)
    roster_codes = set(roster["ma_xa"]) if len(roster) else set()
    roster_provinces = set(roster["ma_tinh"]) if len(roster) else set()
    for sub in submissions:
        era = rules.era_of_month(sub["thang"])
        where = dict(file=parsed.name, sheet=sub["source_sheet"], row=sub["source_row"], column="ma_xa",
                     ma_xa=sub["ma_xa"], ky_bao_cao=sub["ky_bao_cao"])
        known = (era, sub["ma_xa"]) in units.index
        if not known and sub["ma_xa"] not in roster_codes:
            problems.append(Problem(**where, rule="unknown_commune", message=(
                f"mã xã {sub['ma_xa']} không có trong danh mục đơn vị hành chính ({era}) (unknown commune code)")))
            continue
        unit = units.loc[(era, sub["ma_xa"])] if known else None
        province = unit["ma_tinh"] if known else None
        if roster_codes and sub["ma_xa"] not in roster_codes and (province in roster_provinces or province is None):
            problems.append(Problem(**where, rule="out_of_roster", message=(
                f"xã {sub['ma_xa']} không có trong danh sách xã phải báo cáo (commune outside the roster)")))
        if known and sub.get("ten_xa") and n.commune_name_key(sub["ten_xa"]) != unit["name_key"]:
            problems.append(Problem(**{**where, "column": "ten_xa"}, rule="name_mismatch", severity="warning",
                                    message=f"tên '{sub['ten_xa']}' không khớp mã {sub['ma_xa']} ({unit['ten_xa']})"))
        if known and sub.get("ma_tinh") and sub["ma_tinh"] != province:
            problems.append(Problem(**{**where, "column": "ma_tinh"}, rule="province_mismatch", message=(
                f"mã tỉnh {sub['ma_tinh']} không khớp xã {sub['ma_xa']} (thuộc tỉnh {province})")))
    return problems
