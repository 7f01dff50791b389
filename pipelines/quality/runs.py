"""A line per audited run: how many issues were open after it, for the report's chart over runs."""

from __future__ import annotations

import datetime as dt

import duckdb


def record_run(conn: duckdb.DuckDBPyConnection, run_id: str, now: dt.datetime | None = None) -> None:
    """Count the open errors, open warnings and waived issues of `main.quality_issues` for this run
    (a rerun of the same run id replaces its line). DuckDB's count_if over no rows is null, not 0."""
    conn.execute("create schema if not exists audit")
    conn.execute("""create table if not exists audit.run_log (
        run_id varchar primary key, thoi_diem timestamp, loi bigint, canh_bao bigint, da_mien bigint)""")
    conn.execute("""
        insert or replace into audit.run_log
        select ?, ?, coalesce(count_if(muc_do = 'error' and trang_thai = 'open'), 0),
               coalesce(count_if(muc_do = 'warning' and trang_thai = 'open'), 0),
               coalesce(count_if(trang_thai = 'waived'), 0)
        from main.quality_issues""", [run_id, (now or dt.datetime.now()).replace(microsecond=0)])
