"""Quality issues: every finding with its severity from the policy, its history and its waiver.

An issue keeps one identity across runs (a hash of check, unit, period and detail), so that it has
a first and a last time seen, becomes `resolved` when the data no longer shows it, and stays
`waived` once someone has recorded why it may pass.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.lib.transaction import transaction

ISSUE_COLUMNS = ["ma_kiem_tra", "cap", "ma_don_vi", "ky", "gia_tri_bao_cao", "gia_tri_tinh_toan", "mo_ta", "khoa",
                 "muc_do_mac_dinh"]

_AUDIT_DDL = [
    "create schema if not exists audit",
    """create table if not exists audit.issue_history (
        issue_id varchar primary key, ma_kiem_tra varchar, muc_do varchar, cap varchar, ma_don_vi varchar,
        ky varchar, mo_ta varchar, gia_tri_bao_cao double, gia_tri_tinh_toan double,
        first_seen timestamp, last_seen timestamp, resolved_at timestamp)""",
    """create table if not exists audit.waivers (
        issue_id varchar primary key, waived_by varchar, waived_at timestamp, reason varchar)""",
    # A waiver holds the values it was given for (binding) and may end (valid_until, inclusive).
    "alter table audit.waivers add column if not exists gia_tri_bao_cao double",
    "alter table audit.waivers add column if not exists gia_tri_tinh_toan double",
    "alter table audit.waivers add column if not exists mo_ta varchar",
    "alter table audit.waivers add column if not exists valid_until date",
    "alter table audit.waivers add column if not exists values_bound boolean default false",
    # Waivers from before binding: bound once, to the values the issue shows now.
    """update audit.waivers as w set gia_tri_bao_cao = h.gia_tri_bao_cao, gia_tri_tinh_toan = h.gia_tri_tinh_toan,
           mo_ta = h.mo_ta, values_bound = true
       from audit.issue_history as h where h.issue_id = w.issue_id and not coalesce(w.values_bound, false)""",
    # One row per test and month window ('' = every month): a window run replaces only what it re-tested.
    """create table if not exists audit.dbt_test_results (
        unique_id varchar, status varchar, failures bigint, message varchar)""",
    "alter table audit.dbt_test_results add column if not exists min_month varchar default ''",
    "alter table audit.dbt_test_results add column if not exists max_month varchar default ''",
]

# When a waiver still lets its issue pass: the issue shows the values it was waived for (both
# numbers; the message too when the finding has no number, as its values are then in the text),
# and its end date, if any, has not passed. Otherwise the issue is open again.
_WAIVER_HOLDS = """(w.issue_id is not null
    and w.gia_tri_bao_cao is not distinct from h.gia_tri_bao_cao
    and w.gia_tri_tinh_toan is not distinct from h.gia_tri_tinh_toan
    and (h.gia_tri_bao_cao is not null or h.gia_tri_tinh_toan is not null or w.mo_ta is not distinct from h.mo_ta)
    and (w.valid_until is null or w.valid_until >= $today))"""

class UnknownIssue(LookupError):
    pass


def create_audit_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _AUDIT_DDL:
        conn.execute(statement)


def load_policy(path: Path) -> dict:
    with Path(path).open("rb") as handle:
        policy = tomllib.load(handle)
    checks = {code: level for code, level in policy.get("checks", {}).items()}
    bad = {code: level for code, level in checks.items() if level not in ("error", "warning")}
    if bad:
        raise ValueError(f"{path}: severities must be 'error' or 'warning': {bad}")
    return {"default": policy.get("defaults", {}).get("severity", "error"), "checks": checks}


def record_test_results(conn: duckdb.DuckDBPyConnection, tests: list[tuple], window: dict | None = None) -> None:
    """One dbt invocation's test results (unique_id, status, failures, message), for `refresh_issues`.

    Kept per test and month window: a build of every month (`window` empty) replaces every result of
    the tests it ran; a window run (`min_month`/`max_month`) replaces only those tests' results for
    windows inside its own, so a failure it did not re-test (another month, or the last full build)
    stays and still blocks publication. Tests the invocation did not run keep their results."""
    create_audit_tables(conn)
    first, last = (window or {}).get("min_month") or "", (window or {}).get("max_month") or ""
    # unique_id, status, failures, message: a list each
    columns = [list(column) for column in zip(*(t[:4] for t in tests))] or [[], [], [], []]
    # One transaction, each statement over every test: a row at a time, each its own commit to the
    # file, costs a few milliseconds a test.
    with transaction(conn):
        conn.execute("delete from audit.dbt_test_results where list_contains(?::varchar[], unique_id)"
                     + (" and min_month <> '' and min_month >= ? and max_month <= ?" if first else ""),
                     [columns[0], first, last] if first else [columns[0]])
        conn.execute("insert into audit.dbt_test_results select unnest(?::varchar[]), unnest(?::varchar[]), "
                     "unnest(?::bigint[]), unnest(?::varchar[]), ?, ?", [*columns, first, last])


def _current_findings(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    findings = conn.execute("select * from audit.audit_findings").df() if _exists(
        conn, "audit", "audit_findings") else pd.DataFrame(columns=ISSUE_COLUMNS)
    tests = conn.execute(
        """select case when status = 'warn' then 'DBT_TEST_WARNED' else 'DBT_TEST_FAILED' end as ma_kiem_tra,
                  'dbt' as cap, split_part(unique_id, '.', 3) as ma_don_vi,
                  case when min_month = '' then '' else min_month || '..' || max_month end as ky,
                  null::double as gia_tri_bao_cao, cast(failures as double) as gia_tri_tinh_toan,
                  'Kiểm thử dbt ' || split_part(unique_id, '.', 3) || ': ' || coalesce(failures, 0)
                      || ' dòng vi phạm (dbt data test failed'
                      || case when min_month = '' then '' else ', months ' || min_month || '..' || max_month end
                      || ') ' || coalesce(message, '') as mo_ta,
                  unique_id as khoa, null as muc_do_mac_dinh
           from audit.dbt_test_results where status in ('fail', 'error', 'warn')"""
    ).df()
    frames = [f for f in (findings[ISSUE_COLUMNS], tests[ISSUE_COLUMNS]) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=ISSUE_COLUMNS)


def _exists(conn, schema: str, table: str) -> bool:
    return conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table]).fetchone()[0] > 0


def refresh_issues(conn: duckdb.DuckDBPyConnection, policy: dict, now: dt.datetime | None = None) -> dict:
    """Merge this run's findings into the issue history and rebuild `main.quality_issues`."""
    now = (now or dt.datetime.now()).replace(microsecond=0)
    create_audit_tables(conn)
    findings = _current_findings(conn)
    findings["muc_do"] = [
        policy["checks"].get(code) or default or policy["default"]
        for code, default in zip(findings["ma_kiem_tra"], findings["muc_do_mac_dinh"])
    ]
    conn.register("findings", findings)
    try:
        with transaction(conn):
            conn.execute("""
                create or replace temp table current_issues as
                select distinct on (issue_id) * from (
                    select substr(sha256(concat_ws('|', ma_kiem_tra, cap, ma_don_vi, ky, khoa)), 1, 12) as issue_id, *
                    from findings
                ) order by issue_id""")
            conn.execute("""
                update audit.issue_history as h set
                    last_seen = ?, resolved_at = null, muc_do = c.muc_do, mo_ta = c.mo_ta,
                    gia_tri_bao_cao = c.gia_tri_bao_cao, gia_tri_tinh_toan = c.gia_tri_tinh_toan
                from current_issues as c where h.issue_id = c.issue_id""", [now])
            conn.execute("""
                insert into audit.issue_history
                select issue_id, ma_kiem_tra, muc_do, cap, ma_don_vi, ky, mo_ta, gia_tri_bao_cao, gia_tri_tinh_toan,
                       ?, ?, null
                from current_issues as c
                where not exists (select 1 from audit.issue_history as h where h.issue_id = c.issue_id)""", [now, now])
            conn.execute("""
                update audit.issue_history set resolved_at = ?
                where resolved_at is null and issue_id not in (select issue_id from current_issues)""", [now])
            conn.execute("""
                create or replace table main.quality_issues as
                select
                    h.issue_id,
                    h.ma_kiem_tra,
                    h.muc_do,
                    h.cap,
                    h.ma_don_vi,
                    h.ky,
                    h.mo_ta,
                    case when h.resolved_at is not null then 'resolved'
                         when {holds} then 'waived'
                         else 'open' end as trang_thai,
                    h.gia_tri_bao_cao,
                    h.gia_tri_tinh_toan,
                    h.first_seen,
                    h.last_seen,
                    h.resolved_at,
                    w.waived_by,
                    w.waived_at,
                    w.reason as waiver_reason,
                    w.valid_until as waiver_until,
                    case when w.issue_id is null or h.resolved_at is not null or {holds} then null
                         when w.valid_until < $today then 'miễn trừ hết hạn ' || w.valid_until || ' (waiver expired)'
                         else 'giá trị đã thay đổi từ khi miễn trừ: ' || coalesce(cast(w.gia_tri_bao_cao as varchar), '—')
                              || ' / ' || coalesce(cast(w.gia_tri_tinh_toan as varchar), '—')
                              || ' (values changed since the waiver)' end as waiver_lapsed
                from audit.issue_history as h
                left join audit.waivers as w using (issue_id)
                order by case h.muc_do when 'error' then 0 else 1 end, h.ma_kiem_tra, h.cap, h.ma_don_vi, h.ky""".format(
                    holds=_WAIVER_HOLDS), {"today": now.date()})
    finally:
        conn.unregister("findings")
    return issue_counts(conn)


def issue_counts(conn: duckdb.DuckDBPyConnection) -> dict:
    rows = conn.execute(
        "select muc_do, trang_thai, count(*) from main.quality_issues group by all").fetchall()
    counts = {f"{level}_{status}": n for level, status, n in rows}
    counts["open_errors"] = counts.get("error_open", 0)
    return counts


def waive(conn: duckdb.DuckDBPyConnection, issue_id: str, reason: str, who: str,
          now: dt.datetime | None = None, until: dt.date | None = None) -> None:
    """Record who waived an issue, when, why, until when (optional, inclusive) and for which values:
    it no longer blocks publication while it shows those values and the date has not passed."""
    create_audit_tables(conn)
    if not reason.strip():
        raise ValueError("a waiver needs a reason")
    now = (now or dt.datetime.now()).replace(microsecond=0)
    if until is not None and until < now.date():
        raise ValueError(f"--until {until} is in the past")
    found = conn.execute("select gia_tri_bao_cao, gia_tri_tinh_toan, mo_ta from audit.issue_history "
                         "where issue_id = ?", [issue_id]).fetchone()
    if not found:
        raise UnknownIssue(f"no issue {issue_id!r} (see `issue_id` in quality_issues)")
    conn.execute("""insert or replace into audit.waivers
                    (issue_id, waived_by, waived_at, reason, gia_tri_bao_cao, gia_tri_tinh_toan, mo_ta, valid_until,
                     values_bound)
                    values (?, ?, ?, ?, ?, ?, ?, ?, true)""", [issue_id, who, now, reason, *found, until])
    if _exists(conn, "main", "quality_issues"):
        conn.execute("""update main.quality_issues set trang_thai = 'waived', waived_by = ?, waived_at = ?,
                        waiver_reason = ? where issue_id = ? and trang_thai = 'open'""", [who, now, reason, issue_id])
        if "waiver_until" in {c for (c,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'main' "
                "and table_name = 'quality_issues'").fetchall()}:
            conn.execute("update main.quality_issues set waiver_until = ?, waiver_lapsed = null where issue_id = ?",
                         [until, issue_id])
