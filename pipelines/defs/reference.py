"""Reference data as assets: administrative units of both eras, the crosswalk, and the roster."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.reference import admin_units as units
from pipelines.reference.roster import load_roster
from pipelines.lib.resources import NtmSettings


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ref", "admin_units"], group_name="reference",
                     description="GSO commune-level units before and from 1 July 2025 (vietnamadminunits)."),
        dg.AssetSpec(["ref", "admin_unit_crosswalk"], group_name="reference",
                     description="Legacy commune → 2025 commune (vietnamadminunits converter)."),
    ],
)
def admin_units(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    # `settings` unused here but required: its setup takes the home's writer lock (lib/resources.py),
    # also when this asset is materialised alone.
    version = units.package_version()
    with warehouse.get_connection() as conn:
        conn.execute("create schema if not exists ref")
        conn.execute("create table if not exists ref.meta (name varchar primary key, value varchar)")
        loaded = conn.execute("select value from ref.meta where name = 'vietnamadminunits'").fetchone()
        # Reload only when the package changes, or the table predates a column (the coordinates).
        columns = {name for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ref' and table_name = 'admin_units'").fetchall()}
        if loaded is None or loaded[0] != version or not set(units.UNIT_COLUMNS) <= columns:
            for table, frame in (("admin_units", units.admin_units()), ("admin_unit_crosswalk", units.crosswalk())):
                conn.register("incoming", frame)
                conn.execute(f"create or replace table ref.{table} as select * from incoming")
                conn.unregister("incoming")
            conn.execute("insert or replace into ref.meta values ('vietnamadminunits', ?)", [version])
        counts = dict(conn.execute(
            "select era, count(*) from ref.admin_units group by era order by era").fetchall())
        n_links = conn.execute("select count(*) from ref.admin_unit_crosswalk").fetchone()[0]
    meta = {"package_version": version}
    yield dg.MaterializeResult(asset_key=["ref", "admin_units"], metadata={**meta, **counts})
    yield dg.MaterializeResult(asset_key=["ref", "admin_unit_crosswalk"], metadata={**meta, "links": n_links})


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ref", "roster"], group_name="reference",
                     description="reference/roster.csv of the home: the communes each province expects to "
                                 "report, its valid rows."),
        dg.AssetSpec(["ref", "roster_problems"], group_name="reference",
                     description="Every bad cell of the roster (file, row, column, rule); the audit reports "
                                 "them (audit_roster) and an error withholds publication."),
    ],
)
def roster(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    path = settings.paths.roster_file
    with warehouse.get_connection() as conn:
        loaded = load_roster(conn, path)
    for problem in loaded.problems:  # also in the log: the run's outcome (exit 2) points here
        (context.log.error if problem.severity == "error" else context.log.warning)(problem.describe())
    errors = sum(p.severity == "error" for p in loaded.problems)
    yield dg.MaterializeResult(asset_key=["ref", "roster"], metadata={
        "path": str(path), "communes": len(loaded.rows), "present": path.exists()})
    yield dg.MaterializeResult(asset_key=["ref", "roster_problems"], metadata={
        "errors": errors, "warnings": len(loaded.problems) - errors})


defs = dg.Definitions(assets=[admin_units, roster])
