"""Which months a build must rebuild: "a month costs a month" (issue 12).

The month-incremental facts and marts (dbt tag `monthly`) rebuild a window of months. A run tagged
`ntm/months=changed` (`ntm run`, the landing sensor, the monthly schedule) rebuilds from the first
month that something received since the last build can change, to the last month:

- an accepted submission file not yet built changes the months from its period's first month on
  (stocks carry forward; a finer report can leave a coarser one out, and the coarser one ends later);
- months the warehouse covers beyond the last build (int_months: a new month, a claim's range)
  are built;
- anything else that can change any month (the dbt project's files, the dbt vars, the reference
  tables `ref.*`, months added before the first one built) makes it a full build: its fingerprint
  differs from the last build's.

The ledger lives in the working warehouse (`audit.monthly_builds`, `audit.monthly_built_files`) and
is written only after the monthly models built: a run that fails part-way leaves the files unbuilt,
and the next run rebuilds their months. Every month is rebuilt by `ntm run --full`, or by a run over
every partition without the tag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import duckdb
import pyarrow as pa

from pipelines.ingest.normalize import period_first_month
from pipelines.settings import DBT_PROJECT_DIR

MONTHS_TAG = "ntm/months"
CHANGED = "changed"
_FINGERPRINT_SOURCES = ("models", "macros", "seeds", "dbt_project.yml")


@dataclass
class MonthPlan:
    """A build's months: `window` {min_month, max_month} (YYYY-MM), or None for every month."""

    window: dict | None
    reason: str
    fingerprint: str = ""
    first_month: str | None = None  # months the warehouse covers now (int_months' bounds)
    last_month: str | None = None
    files: list[str] = field(default_factory=list)  # accepted files the build takes in

    def describe(self) -> str:
        months = f"months {self.window['min_month']}..{self.window['max_month']}" if self.window else "every month"
        return f"rebuilding {months}: {self.reason}"


def _create(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists audit")
    conn.execute("""create table if not exists audit.monthly_builds (
        built_at timestamptz, run_id varchar, fingerprint varchar, first_month varchar, last_month varchar,
        min_month varchar, max_month varchar, reason varchar)""")
    conn.execute("create table if not exists audit.monthly_built_files (file_sha256 varchar primary key)")


def _project_digest() -> str:
    digest = hashlib.sha256()
    for name in _FINGERPRINT_SOURCES:
        path = DBT_PROJECT_DIR / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            digest.update(str(file.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _reference_digest(conn: duckdb.DuckDBPyConnection) -> str:
    """Content of every table in `ref` (units, crosswalk, roster): order-free sums of row hashes."""
    tables = [name for (name,) in conn.execute(
        "select table_name from duckdb_tables() where schema_name = 'ref' order by table_name").fetchall()]
    parts = []
    for table in tables:
        count, total = conn.execute(
            f'select count(*), coalesce(sum(hash(t::varchar)::hugeint), 0) from ref."{table}" t').fetchone()
        parts.append(f"{table}:{count}:{total}")
    return "|".join(parts)


def fingerprint(conn: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any]) -> str:
    """What every month depends on besides the submissions: code, vars and reference."""
    text = json.dumps({"project": _project_digest(), "vars": dict(dbt_vars), "ref": _reference_digest(conn)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _month(value) -> str | None:
    return value.strftime("%Y-%m") if value is not None else None


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def plan(conn: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any]) -> MonthPlan:
    """The months a `changed` build rebuilds. Reads int_months (built by the run's first dbt step)
    and the raw tables."""
    _create(conn)
    current = fingerprint(conn, dbt_vars)
    first, last = (_month(m) for m in conn.execute(
        "select min(thang_ky), max(thang_ky) from intermediate.int_months").fetchone())
    files = [sha for (sha,) in conn.execute(
        "select file_sha256 from raw.files where status = 'accepted' and kind = 'submission'").fetchall()]
    full = MonthPlan(None, "", current, first, last, files)
    previous = conn.execute("select fingerprint, first_month, last_month from audit.monthly_builds "
                            "order by built_at desc limit 1").fetchone()
    if first is None:
        full.reason = "no months yet"
        return full
    if previous is None:
        full.reason = "no earlier build in this warehouse"
        return full
    if previous[0] != current:
        full.reason = "the dbt project, its vars or the reference changed since the last build"
        return full
    if previous[1] is None or first < previous[1]:
        full.reason = f"months before {previous[1]} arrived"
        return full
    periods = [ky for (ky,) in conn.execute(
        "select distinct s.ky_bao_cao from raw.submissions s join raw.files f using (file_sha256) "
        "where f.status = 'accepted' and not exists (select 1 from audit.monthly_built_files b "
        "where b.file_sha256 = s.file_sha256)").fetchall()]
    starts = [period_first_month(ky) for ky in periods if ky]
    reasons = [f"{len(periods)} new period(s) received"] if starts else []
    if previous[2] is None or last > previous[2]:
        starts.append(_next_month(previous[2]) if previous[2] else first)
        reasons.append(f"months after {previous[2]} to build")
    if not starts:
        # Nothing changed: the last month alone (cheap, and the monthly assets still materialise).
        return MonthPlan({"min_month": last, "max_month": last}, "nothing new since the last build",
                         current, first, last, files)
    start = max(min(starts), first)
    if start <= first:
        full.reason = "; ".join(reasons)
        return full
    return MonthPlan({"min_month": start, "max_month": last}, "; ".join(reasons), current, first, last, files)


def record(conn: duckdb.DuckDBPyConnection, done: MonthPlan, run_id: str) -> None:
    """After the monthly models built: the build and the files it took in, in one transaction."""
    _create(conn)
    window = done.window or {}
    conn.execute("begin transaction")
    try:
        conn.execute("insert into audit.monthly_builds values (now(), ?, ?, ?, ?, ?, ?, ?)",
                     [run_id, done.fingerprint, done.first_month, done.last_month,
                      window.get("min_month"), window.get("max_month"), done.reason])
        if done.files:
            conn.register("built_now", pa.table({"file_sha256": pa.array(done.files, pa.string())}))
            try:
                conn.execute("insert or ignore into audit.monthly_built_files select file_sha256 from built_now")
            finally:
                conn.unregister("built_now")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
