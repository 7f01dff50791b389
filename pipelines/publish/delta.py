"""What changed since the last publication, month by month, so a publication copies only that.

A national history publishes about 11 M rows, 8.8 M of them in `fct_commune_criteria`; a month
re-sent changes one or two months of them. So the new copy starts as a file copy of the published
database, and each table is brought up to the warehouse's content by groups: a table with a month
column (`thang_ky`) by month, any other table whole. A group is recopied when its fingerprint
differs from the one recorded when it was last published (`FINGERPRINTS`, inside the published
database itself, so a copy and its fingerprints never disagree); a table whose columns changed, or
that the last publication lacks, is recopied whole. The fingerprint is the group's row count and
the sum of its rows' hashes: content, whatever built it (a changed-months run, a UI range, `--full`,
dbt by hand, a withheld run before this one). A change the fingerprint could miss needs two
different sets of rows of one month with equal counts and equal sums of 64-bit hashes; a DuckDB
upgrade that changes `hash` makes every group differ once, so it is copied again, never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

MONTH_COLUMN = "thang_ky"
FINGERPRINTS = "publication_fingerprints"
# A copy that has only been patched grows with the months replaced in it (deleted rows leave holes
# in row groups); past this many times the size of the last whole copy, copy whole again.
MAX_GROWTH = 1.5


@dataclass
class TableChange:
    """How one table reached the new copy: `whole` (created anew), or the month groups replaced
    (empty: unchanged). `fingerprints` are the warehouse's, recorded in the new copy."""

    table: str
    whole: bool
    groups: list = field(default_factory=list)
    fingerprints: dict = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return not self.whole and not self.groups

    @property
    def rows(self) -> int:
        """The warehouse's rows of the table: what the copy must hold."""
        return sum(count for count, _ in self.fingerprints.values())


def columns(conn: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type)]} of the `main` schema of an attached database, in column order."""
    found: dict[str, list[tuple[str, str]]] = {}
    for table, name, kind in conn.execute(
            "select table_name, column_name, data_type from duckdb_columns() where database_name = ? "
            "and schema_name = 'main' order by table_name, column_index", [database]).fetchall():
        found.setdefault(table, []).append((name, kind))
    return found


def fingerprints(conn: duckdb.DuckDBPyConnection, database: str, table: str,
                 table_columns: list[tuple[str, str]]) -> dict:
    """{month or None: (rows, sum of row hashes)} of a table: by month when it has a month column."""
    group = MONTH_COLUMN if _has_months(table_columns) else "null::date"
    rows = conn.execute(f'select {group} as g, count(*), sum(hash(t)::hugeint)::varchar '
                        f'from {database}.main."{table}" as t group by g').fetchall()
    return {month: (count, total) for month, count, total in rows}


def recorded(conn: duckdb.DuckDBPyConnection, database: str) -> dict[str, dict] | None:
    """{table: fingerprints} as the last publication recorded them; None when the copy holds none
    (published before fingerprints were kept)."""
    found = conn.execute("select 1 from duckdb_tables() where database_name = ? and schema_name = 'main' "
                         "and table_name = ?", [database, FINGERPRINTS]).fetchone()
    if not found:
        return None
    tables: dict[str, dict] = {}
    for table, month, count, total in conn.execute(
            f"select table_name, {MONTH_COLUMN}, row_count, row_hash from {database}.main.{FINGERPRINTS}").fetchall():
        groups = tables.setdefault(table, {})
        if count:  # an empty table is recorded as one row of no rows (record)
            groups[month] = (count, total)
    return tables


def _has_months(table_columns: list[tuple[str, str]]) -> bool:
    return any(name == MONTH_COLUMN for name, _ in table_columns)


def bring_up_to_date(conn: duckdb.DuckDBPyConnection, table: str, now_columns: list[tuple[str, str]],
                     before_columns: list[tuple[str, str]] | None, before: dict | None) -> TableChange:
    """Make `pub.main.<table>` hold what `src.main.<table>` holds (columns `now_columns`), recopying
    only the groups whose fingerprints differ from `before`, the last publication's record of it.
    With no record, or other columns in the copy (`before_columns`), the table is copied whole."""
    now = fingerprints(conn, "src", table, now_columns)
    whole = before is None or before_columns != now_columns
    stale = [] if whole else sorted((month for month in set(now) | set(before) if now.get(month) != before.get(month)),
                                    key=lambda month: (month is None, month))
    if whole or (stale and not _has_months(now_columns)):
        conn.execute(f'create or replace table pub.main."{table}" as select * from src.main."{table}"')
        return TableChange(table, True, fingerprints=now)
    if stale:
        months = [month for month in stale if month is not None]
        where = f"{MONTH_COLUMN} in (select unnest(?::date[]))" + (f" or {MONTH_COLUMN} is null" if None in stale else "")
        conn.execute(f'delete from pub.main."{table}" where {where}', [months])
        conn.execute(f'insert into pub.main."{table}" select * from src.main."{table}" where {where}', [months])
    return TableChange(table, False, stale, now)


def record(conn: duckdb.DuckDBPyConnection, changes: list[TableChange]) -> None:
    """The warehouse's fingerprints of every published table, into the new copy."""
    conn.execute(f"create or replace table pub.main.{FINGERPRINTS} (table_name varchar, "
                 f"{MONTH_COLUMN} date, row_count bigint, row_hash varchar)")
    rows = []
    for change in changes:
        groups = change.fingerprints or {None: (0, None)}  # an empty table: one row of no rows
        rows.extend((change.table, month, count, total) for month, (count, total) in groups.items())
    if rows:
        # One statement: a row at a time, each its own commit to the file, took 0.8 s for 427 rows.
        conn.execute(f"insert into pub.main.{FINGERPRINTS} select unnest(?::varchar[]), unnest(?::date[]), "
                     f"unnest(?::bigint[]), unnest(?::varchar[])", [list(column) for column in zip(*rows)])
