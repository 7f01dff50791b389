"""Which months a build must rebuild: "a month costs a month" (issue 12).

The month-incremental facts and marts (dbt tag `monthly`) rebuild a window of months. A run tagged
`ntm/months=changed` (`ntm run`, the landing sensor, the monthly schedule) rebuilds from the first
month that something received since the last build can change, to the last month:

- an accepted submission file not yet built changes the months from its period's first month on
  (stocks carry forward; a finer report can leave a coarser one out, and the coarser one ends later);
- months the warehouse covers beyond the last build (int_months: a new month, a claim's range)
  are built, from the last month built (built again: one month more is harmless, and no month
  arithmetic is needed);
- anything else that can change any month (the dbt project's files, the dbt vars, the reference
  tables `ref.*`, months added before the first one built) makes it a full build: its fingerprint
  differs from the last build's.

The intermediate models incremental by period (models/intermediate/by_period) are rebuilt in the
same run, before the int_months this plan reads, from the first month of the periods received
(`rebuild_from`), or whole for the same reasons as a full build.

The ledger lives in the working warehouse (`audit.monthly_builds`, `audit.monthly_built_files`) and
is written only after the monthly models built: a run that fails part-way leaves the files unbuilt,
and the next run rebuilds their months. Every month is rebuilt by `ntm run --full`, or by a run over
every partition without the tag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb

from pipelines.ingest.normalize import period_months
from pipelines.lib.transaction import transaction
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
    from_month: str | None = None  # where the intermediate models by period rebuilt from (`rebuild_from`)

    def describe(self) -> str:
        months = f"months {self.window['min_month']}..{self.window['max_month']}" if self.window else "every month"
        return f"rebuilding {months}: {self.reason}"


def _create(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists audit")
    conn.execute("""create table if not exists audit.monthly_builds (
        built_at timestamptz, run_id varchar, fingerprint varchar, first_month varchar, last_month varchar,
        min_month varchar, max_month varchar, reason varchar)""")
    conn.execute("alter table audit.monthly_builds add column if not exists from_month varchar")
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


@dataclass
class _SinceLastBuild:
    """What a changed-months run compares with the last build: a reason to rebuild everything (or
    None), and the first month of every period received since (files the ledger has not taken in)."""

    fingerprint: str
    everything: str | None
    previous: tuple | None  # (fingerprint, first_month, last_month) of the last build
    starts: list[str]  # the first month of each period received


def _since_last_build(conn: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any]) -> _SinceLastBuild:
    _create(conn)
    current = fingerprint(conn, dbt_vars)
    previous = conn.execute("select fingerprint, first_month, last_month from audit.monthly_builds "
                            "order by built_at desc limit 1").fetchone()
    everything = ("no earlier build in this warehouse" if previous is None else
                  "the dbt project, its vars or the reference changed since the last build"
                  if previous[0] != current else None)
    # raw.submissions holds accepted files' rows only, and is append-only
    periods = [ky for (ky,) in conn.execute(
        "select distinct ky_bao_cao from raw.submissions s where ky_bao_cao is not null and not exists "
        "(select 1 from audit.monthly_built_files b where b.file_sha256 = s.file_sha256)").fetchall()]
    return _SinceLastBuild(current, everything, previous, [period_months(ky)[0] for ky in periods])


def _from_month(since: _SinceLastBuild) -> tuple[str | None, str]:
    if since.everything:
        return None, since.everything
    if not since.starts:
        return "9999-12", "nothing received since the last build"
    return min(since.starts), f"{len(since.starts)} new period(s) received"


def rebuild_from(conn: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any]) -> tuple[str | None, str]:
    """The first month (YYYY-MM) from which a changed-months run rebuilds the intermediate models
    incremental by period (macros/incremental.sql), or None for all of them, with the reason. Those
    rows change only with the submissions of their own commune and period, so the first month of
    any period received since the last build is where they start to change. Read before the run's
    first dbt step, from the raw tables and the ledger; nothing received: a month past any period."""
    return _from_month(_since_last_build(conn, dbt_vars))


def plan(conn: duckdb.DuckDBPyConnection, dbt_vars: Mapping[str, Any], full: bool = False) -> MonthPlan:
    """The months a build rebuilds: every month when `full`, else those changed since the last
    build. Reads int_months (built by the run's first dbt step) and the raw tables."""
    since = _since_last_build(conn, dbt_vars)
    first, last = (_month(m) for m in conn.execute(
        "select min(thang_ky), max(thang_ky) from intermediate.int_months").fetchone())
    every = MonthPlan(None, "full build", since.fingerprint, first, last)
    if full:
        return every
    every.from_month = _from_month(since)[0]
    previous = since.previous
    if first is None:
        every.reason = "no months yet"
    elif since.everything:
        every.reason = since.everything
    elif previous[1] is None or first < previous[1]:
        every.reason = f"months before {previous[1]} arrived"
    if every.reason != "full build":
        return every
    starts = list(since.starts)
    reasons = [f"{len(starts)} new period(s) received"] if starts else []
    if previous[2] is None or last > previous[2]:
        starts.append(previous[2] or first)  # from the last month built (rebuilt again: harmless)
        reasons.append(f"months after {previous[2]} to build")
    if not starts:
        # Nothing changed: the last month alone (cheap, and the monthly assets still materialise).
        return MonthPlan({"min_month": last, "max_month": last}, "nothing new since the last build",
                         since.fingerprint, first, last, every.from_month)
    start = max(min(starts), first)
    if start <= first:
        every.reason = "; ".join(reasons)
        return every
    return MonthPlan({"min_month": start, "max_month": last}, "; ".join(reasons), since.fingerprint, first, last,
                     every.from_month)


def record(conn: duckdb.DuckDBPyConnection, done: MonthPlan, run_id: str) -> None:
    """After the monthly models built: the build, and every accepted submission file as taken in
    (the run holds the home: none arrived since the plan), in one transaction."""
    _create(conn)
    window = done.window or {}
    with transaction(conn):
        conn.execute("insert into audit.monthly_builds by name select now() as built_at, ? as run_id, "
                     "? as fingerprint, ? as first_month, ? as last_month, ? as min_month, ? as max_month, "
                     "? as reason, ? as from_month",
                     [run_id, done.fingerprint, done.first_month, done.last_month,
                      window.get("min_month"), window.get("max_month"), done.reason, done.from_month])
        conn.execute("insert or ignore into audit.monthly_built_files select file_sha256 from raw.files "
                     "where status = 'accepted' and kind = 'submission'")
