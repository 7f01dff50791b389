"""The roster: which communes a province expects to report (contract §3).

Each row applies to the months `tu_thang`..`den_thang` (inclusive; a blank end is open). From the
reform month (pipelines.rules) districts are gone: a row applying only from then on carries no
`ma_huyen`; one that does is a warning and its `ma_huyen` is ignored. Before the reform `ma_huyen`
may be blank: the reference supplies the commune's district.

A bad cell never makes the scope silently smaller: its row is left out, and a problem naming file,
row and column goes to `ref.roster_problems`, which the audit (`audit_roster`) turns into an
error-severity issue that withholds publication (`ntm run` exits 2).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pipelines import rules
from pipelines.ingest import normalize as n

ROSTER_COLUMNS = {"ma_xa": 5, "ten_xa": None, "ma_huyen": 3, "ma_tinh": 2, "tu_thang": "month", "den_thang": "month"}
REQUIRED = ("ma_xa", "ma_tinh")
PROBLEM_COLUMNS = ("file_name", "row", "column", "rule", "severity", "message", "ma_xa")


@dataclass
class RosterProblem:
    file_name: str
    row: int | None
    column: str | None
    rule: str
    message: str
    severity: str = "error"
    ma_xa: str | None = None

    def describe(self) -> str:
        where = ", ".join(p for p in (self.row and f"row {self.row}", self.column and f"column {self.column}") if p)
        place = f"{self.file_name}: {where}" if where else self.file_name
        return f"{self.severity.upper()} [roster_{self.rule}] {place}: {self.message}"


@dataclass
class Roster:
    rows: pd.DataFrame  # the rows without errors
    problems: list[RosterProblem] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=list(ROSTER_COLUMNS), dtype="string")


def _parse(raw: str, kind) -> str:
    if isinstance(kind, int):
        return n.code(raw, kind)
    return n.month(raw) if kind == "month" else n.text(raw)


def check_roster(path: Path) -> Roster:
    """Read `reference/roster.csv`: its valid rows, and every problem with row and column."""
    if not path.exists():
        return Roster(_empty())
    name = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        return Roster(_empty(), [RosterProblem(name, None, None, "encoding",
                                               "tệp không phải UTF-8 (file is not UTF-8 text)")])
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return Roster(_empty(), [RosterProblem(name, None, None, "unreadable_file",
                                               f"không đọc được CSV ({error})")])
    header = [n.fold(h) for h in (lines[0] if lines else [])]
    index = {key: header.index(n.fold(key)) for key in ROSTER_COLUMNS if n.fold(key) in header}
    missing = [key for key in REQUIRED if key not in index]
    if missing:
        return Roster(_empty(), [RosterProblem(name, 1, key, "missing_column",
                                               f"thiếu cột {key} (required column missing)") for key in missing])
    reform = rules.reform_month()
    problems: list[RosterProblem] = []
    rows: list[dict] = []
    lines_of_rows: list[int] = []
    for line, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        row, bad, first_problem = {}, False, len(problems)
        for key, kind in ROSTER_COLUMNS.items():
            raw = cells[index[key]] if key in index and index[key] < len(cells) else None
            if n.cell_text(raw) is None:
                row[key] = None
                if key in REQUIRED:
                    problems.append(RosterProblem(name, line, key, "missing_value",
                                                  f"{key}: trống (required value empty)"))
                    bad = True
                continue
            try:
                row[key] = _parse(raw, kind)
            except ValueError as error:
                problems.append(RosterProblem(name, line, key, "invalid_value", f"{key}: {error}"))
                bad = True
        for problem in problems[first_problem:]:
            problem.ma_xa = row.get("ma_xa")
        if not bad and row["tu_thang"] and row["den_thang"] and row["tu_thang"] > row["den_thang"]:
            problems.append(RosterProblem(name, line, "tu_thang", "invalid_range",
                                          f"từ tháng {row['tu_thang']} sau đến tháng {row['den_thang']} "
                                          "(range reversed)",
                                          ma_xa=row["ma_xa"]))
            bad = True
        if bad:
            continue
        if row["ma_huyen"] and row["tu_thang"] and row["tu_thang"] >= reform:
            problems.append(RosterProblem(
                name, line, "ma_huyen", "district_after_reform",
                f"ma_huyen {row['ma_huyen']} bị bỏ qua: từ {reform} không còn cấp huyện "
                f"(districts abolished from {reform}; the value is ignored)", "warning", row["ma_xa"]))
            row["ma_huyen"] = None
        rows.append(row)
        lines_of_rows.append(line)
    problems.extend(_overlaps(name, rows, lines_of_rows))
    overlapping = {p.row for p in problems if p.rule in ("overlapping_rows", "duplicate_row")}
    kept = [row for row, line in zip(rows, lines_of_rows) if line not in overlapping]
    frame = pd.DataFrame.from_records(kept, columns=list(ROSTER_COLUMNS)).astype("string") if kept else _empty()
    return Roster(frame, problems)


def _overlaps(name: str, rows: list[dict], lines: list[int]) -> list[RosterProblem]:
    """The same commune code on two rows whose months overlap would be expected (and counted) twice:
    an error, unless the row repeats the earlier one exactly (pasted twice), which is dropped with a warning."""
    by_code: dict[str, list[tuple[str, str, int, dict]]] = {}
    problems = []
    for row, line in zip(rows, lines):
        first, last = row["tu_thang"] or "0000-00", row["den_thang"] or "9999-99"
        for other_first, other_last, other_line, other in by_code.get(row["ma_xa"], []):
            if first <= other_last and other_first <= last:
                same = row == other
                problems.append(RosterProblem(
                    name, line, "ma_xa", "duplicate_row" if same else "overlapping_rows",
                    f"xã {row['ma_xa']} đã có ở dòng {other_line} cho cùng tháng ("
                    + ("the same row twice; this one is ignored" if same else "the same commune on two rows "
                       "for the same months") + f"; also row {other_line})", "warning" if same else "error",
                    ma_xa=row["ma_xa"]))
                break
        by_code.setdefault(row["ma_xa"], []).append((first, last, line, row))
    return problems


def read_roster(path: Path) -> pd.DataFrame:
    """The roster's valid rows (what `ntm validate` and `ntm template` look communes up in)."""
    return check_roster(path).rows


def load_roster(conn: duckdb.DuckDBPyConnection, path: Path) -> Roster:
    """Replace `ref.roster` (valid rows) and `ref.roster_problems` (what the audit reports)."""
    roster = check_roster(path)
    problems = pd.DataFrame([asdict(p) for p in roster.problems], columns=list(PROBLEM_COLUMNS))
    problems = problems.astype({c: "string" for c in PROBLEM_COLUMNS if c != "row"}).astype({"row": "Int32"})
    conn.execute("create schema if not exists ref")
    for table, frame in (("roster", roster.rows), ("roster_problems", problems)):
        conn.register("incoming_rows", frame)
        try:
            conn.execute(f"create or replace table ref.{table} as select * from incoming_rows")
        finally:
            conn.unregister("incoming_rows")
    return roster
