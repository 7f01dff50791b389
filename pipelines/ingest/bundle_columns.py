"""A CSV bundle read a column at a time: the common case of a clean bundle, at national volume.

A province's monthly bundle holds hundreds of submissions and about 35 rows for each; the general
reader (submissions.py) treats each row and cell on its own, which made parsing the national
history the largest cost of a run. Here Arrow's CSV reader splits each member into columns, each
column is parsed once per distinct value with the general reader's own parsers (`grids._memoised`:
codes, periods, statuses and numbers repeat on every row), and the rows stay Arrow columns.

It reads a bundle only when the general reader would find nothing to say about it: every member
named safely and once, every header known and plain, every row full width, no blank or totals row,
no value that fails, is ambiguous or missing, no repeated or orphan row, every criteria set
complete, every OCOP score in its band. For anything else it answers None and the general reader
reads the file, problems and all. So it changes no verdict, and its rows are the general reader's
(tests/test_bundle_columns.py compares both on generated and mutated bundles).
"""

from __future__ import annotations

import csv
import io
import zipfile
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from pipelines import rules
from pipelines.ingest import normalize as n
from pipelines.ingest.grids import SUBMISSION, Grid, ParsedFile, _header_map, _memoised
from pipelines.ingest.limits import is_ignored_member, is_unsafe_member
from pipelines.ingest.raw_schema import FILE_COLUMNS, RAW_TABLES
from pipelines.ingest.schema import CRITERIA_SETS, SUBMISSION_KEYS, SUBMISSION_TABLES, THONG_TIN, TONG_HOP
from pipelines.settings import Limits


class _Irregular(Exception):
    """Something the general reader would report or treat specially: it reads the file instead."""


# Below this size of thong_tin.csv (about 50 submissions) the general reader is the faster: Arrow's
# reader and the column work cost ~7 ms a bundle whatever its size (a district's bundle of a dozen
# submissions: 8.3 ms here against 3.5 ms; a province's 120: 15 ms against 55 ms).
MIN_THONG_TIN_BYTES = 4096


def read_bundle_columns(archive: zipfile.ZipFile, parsed: ParsedFile, limits: Limits) -> dict[str, pa.Table] | None:
    """The bundle's raw tables as Arrow (and `parsed.kind` set), or None when the general reader
    must read it. Never adds a problem."""
    sizes = [info.file_size for info in archive.infolist()
             if n.fold(info.filename.replace("\\", "/").rsplit("/", 1)[-1]) == "thongtincsv"]
    if not sizes or max(sizes) < MIN_THONG_TIN_BYTES:
        return None
    try:
        return _read(_members(archive, limits), parsed)
    except (_Irregular, pa.ArrowException, UnicodeDecodeError, csv.Error, KeyError, ValueError):
        return None


class _Member:
    """One CSV member: its header cells and its rows after the header, as string columns."""

    def __init__(self, base: str, data: bytes, limits: Limits):
        first = data.split(b"\n", 1)[0].removesuffix(b"\r").decode("utf-8-sig")
        if '"' in first:
            raise _Irregular  # a quoted header: the csv module's reading is the reference
        self.name, self.header = base, next(csv.reader([first]), [])
        if len(set(self.header)) != len(self.header):
            raise _Irregular
        self.rows = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=max(len(data), 1 << 16)),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types={name: pa.string() for name in self.header},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
        if (self.rows.num_rows + 1) * len(self.header) > limits.max_cells_per_sheet:
            raise _Irregular
        if self.rows.column_names != self.header:
            raise _Irregular
        if len(data) > csv.field_size_limit() and any(  # the csv module refuses such a field
                (pc.max(pc.utf8_length(column)).as_py() or 0) > csv.field_size_limit() for column in self.rows.columns):
            raise _Irregular


def _members(archive: zipfile.ZipFile, limits: Limits) -> dict[str, _Member]:
    """The CSV members by folded table name, as `readers._bundle_grids` finds them."""
    members = {}
    for info in archive.infolist():
        if info.is_dir() or is_ignored_member(info.filename):
            continue
        if is_unsafe_member(info.filename):
            raise _Irregular
        base = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
        if not base.lower().endswith(".csv"):
            continue
        key = n.fold(base[:-4])
        if key in members:
            raise _Irregular
        members[key] = _Member(base, archive.read(info), limits)
    return members


_IRREGULAR = object()


@lru_cache(maxsize=64)
def _reading(f):
    """The field's reading of one raw cell, remembered across files (parsers are pure): the value,
    None for a blank optional cell (the general reader leaves its key out of the row), or
    _IRREGULAR for what the general reader would report (blank required, failing, ambiguous)."""
    parse = _memoised(f.parse)

    @lru_cache(maxsize=1 << 16)
    def read(raw: str):
        if n.cell_text(raw) is None and f.parse is not n.status:
            return _IRREGULAR if f.required else None
        try:
            value = parse(raw)
        except ValueError:
            return _IRREGULAR
        return _IRREGULAR if type(value) is n.Noted else value

    return read


def _parsed_column(column: pa.ChunkedArray, f) -> pa.Array:
    """A column's values through the field's parser, once per distinct value."""
    whole = column.combine_chunks()
    encoded = whole.dictionary_encode()
    raw = encoded.dictionary.to_pylist()
    values = list(map(_reading(f), raw))
    if any(value is _IRREGULAR for value in values):
        raise _Irregular
    if values == raw:  # every value reads as written (codes, most text): the column as it is
        return whole
    return pa.array(values, pa.string()).take(encoded.indices)


def _columns(member: _Member, fields, parsed: ParsedFile, skip_totals: bool) -> tuple[pa.Array, dict]:
    """(row numbers, {key: (values, column reference)}) of a table member, every value parsed."""
    scratch = ParsedFile(name=parsed.name, sha256=parsed.sha256)
    _, located, ok = _header_map(Grid(member.name, [(1, member.header)], spreadsheet=False), fields, scratch)
    if not ok or scratch.problems:
        raise _Irregular
    rows = member.rows
    if skip_totals and rows.num_rows:
        for first in rows.column(0).unique().to_pylist():
            text = first.strip()  # a code in the first column: never a "Tổng cộng" row
            if not (text.isascii() and text.isdigit()):
                raise _Irregular
    columns = {f.key: (_parsed_column(rows.column(located[f.key][0]), f), located[f.key][1])
               for f in fields if f.key in located}
    return pa.array(range(2, rows.num_rows + 2), pa.int32()), columns


def _table(table: str, columns: dict, size: int) -> pa.Table:
    types = {name: pa.int32() if kind == "INTEGER" else pa.string() for name, kind in RAW_TABLES[table].items()}
    return pa.table({name: columns[name] if name in columns else pa.nulls(size, types[name])
                     for name in types if name not in FILE_COLUMNS})


def _ids(prefix: str, ma_xa: pa.Array, ky: pa.Array) -> pa.Array:
    """`submissions.py`'s submission id: `<sha[:16]>:<ma_xa>:<ky_bao_cao>`."""
    return pc.binary_join_element_wise(pa.scalar(prefix), ma_xa, ky, ":")


def _read(members: dict[str, _Member], parsed: ParsedFile) -> dict[str, pa.Table]:
    for table in SUBMISSION_TABLES:
        if table.required and table.name.replace("_", "") not in members:
            raise _Irregular
    info_member = members["thongtin"]
    numbers, info = _columns(info_member, THONG_TIN.fields, parsed, skip_totals=False)
    size = len(numbers)
    if not size:
        raise _Irregular  # no submission
    ids = _ids(parsed.sha256[:16], info["ma_xa"][0], info["ky_bao_cao"][0])
    if len(ids.unique()) != size:
        raise _Irregular  # one commune and period twice
    ky = info["ky_bao_cao"][0]
    last_month = _memoised(n.period_last_month)
    distinct = ky.unique()
    thang = pa.array([last_month(p) for p in distinct.to_pylist()], pa.string()).take(pc.index_in(ky, distinct))
    submissions = {key: values for key, (values, _) in info.items()}
    submissions.update(submission_id=ids, thang=thang, source_row=numbers,
                       source_sheet=pa.array([info_member.name] * size, pa.string()))
    tables = {"submissions": _table("submissions", submissions, size)}
    for table in SUBMISSION_TABLES:
        member = members.get(table.name.replace("_", ""))
        if table is THONG_TIN or member is None:
            continue
        numbers, columns = _columns(member, (*SUBMISSION_KEYS, *table.fields), parsed, skip_totals=not table.key_value)
        if not len(numbers):
            if table.name == "tieu_chi":
                raise _Irregular  # submissions without criteria
            continue
        ma_xa, row_ky = columns.pop("ma_xa")[0], columns.pop("ky_bao_cao")[0]
        row_ids = _ids(parsed.sha256[:16], ma_xa, row_ky)
        if not pc.all(pc.is_in(row_ids, value_set=ids)).as_py():
            raise _Irregular  # an orphan row
        lineage = {"submission_id": row_ids, "ma_xa": ma_xa, "ky_bao_cao": row_ky, "source_row": numbers,
                   "source_sheet": pa.array([member.name] * len(numbers), pa.string())}
        if table is TONG_HOP:
            tables["tong_hop"] = _totals(columns, lineage)
            continue
        values = {key: column for key, (column, _) in columns.items()}
        if table.name == "tieu_chi":
            _criteria_complete(ids, info["bo_tieu_chi"][0], row_ids, values["tieu_chi"])
        elif table.name == "ocop":
            _scores_in_band(values)
        tables[table.name] = _table(table.name, {**values, **lineage}, len(numbers))
    parsed.kind = SUBMISSION
    return tables


def _totals(columns: dict, lineage: dict) -> pa.Table:
    """TongHop's one row per submission as (truong, gia_tri) rows, blank cells left out."""
    if len(lineage["submission_id"].unique()) != len(lineage["submission_id"]):
        raise _Irregular  # two rows for one submission: the general reader merges them
    if not columns:
        raise _Irregular
    # Every column's cells one after another (the rows of the first field, then the second...), as
    # one table filtered once: a table per field cost a dozen Arrow calls a field.
    base, keys = pa.table(lineage), list(columns)
    size = base.num_rows
    values = pa.concat_arrays([column for column, _ in columns.values()])
    present = values.is_valid()
    field_of_cell = pa.array(np.repeat(np.arange(len(keys), dtype=np.int32), size))
    rows = (base.take(pa.array(np.tile(np.arange(size, dtype=np.int32), len(keys))))
            .append_column("truong", pa.array(keys, pa.string()).take(field_of_cell))
            .append_column("gia_tri", values)
            .append_column("source_column", pa.array([ref for _, ref in columns.values()], pa.string()).take(field_of_cell))
            .filter(present))
    return _table("tong_hop", {name: rows.column(name) for name in rows.column_names}, rows.num_rows)


def _criteria_complete(ids: pa.Array, criteria_sets: pa.Array, row_ids: pa.Array, numbers: pa.Array) -> None:
    """Every submission lists each criterion of its set exactly once (else the general reader's
    unknown, repeated or missing criterion): as many rows and distinct numbers as its set has
    criteria, from 1 to that number."""
    rows = pa.table({"id": row_ids, "number": numbers.cast(pa.int64())})
    stats = rows.group_by("id").aggregate([("number", "count"), ("number", "count_distinct"),
                                           ("number", "min"), ("number", "max")])
    found = {row["id"]: (row["number_count"], row["number_count_distinct"], row["number_min"], row["number_max"])
             for row in stats.to_pylist()}
    for submission_id, criteria_set in zip(ids.to_pylist(), criteria_sets.to_pylist()):
        expected = CRITERIA_SETS[criteria_set]
        if found.get(submission_id) != (expected, expected, 1, expected):
            raise _Irregular


def _scores_in_band(values: dict) -> None:
    bands = rules.ocop_star_bands()
    if "diem" not in values:
        return
    for score, stars in zip(values["diem"].to_pylist(), values["so_sao"].to_pylist()):
        if score is None or stars is None:
            continue
        low, high = bands[int(stars)]
        if not low <= float(score) < high:
            raise _Irregular
