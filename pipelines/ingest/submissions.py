"""Commune submissions (contract §1): a workbook or a CSV bundle into submission rows with lineage,
and the rules of one submission (its criteria set complete, OCOP scores inside their star band)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from pipelines import rules
from pipelines.ingest import normalize as n
from pipelines.ingest.grids import SUBMISSION, Grid, ParsedFile, _is_blank, _read_key_value, _read_table
from pipelines.ingest.schema import (
    CRITERIA_SETS, SUBMISSION_KEYS, SUBMISSION_TABLES, THONG_TIN, TIEU_CHI, TONG_HOP,
)


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
