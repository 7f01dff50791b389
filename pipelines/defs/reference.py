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
        if loaded is None or loaded[0] != version:  # reload only when the package changes
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


@dg.asset(key=["ref", "roster"], group_name="reference")
def roster(settings: NtmSettings, warehouse: DuckDBResource) -> dg.MaterializeResult:
    """`reference/roster.csv` of the home: the communes each province expects to report."""
    path = settings.paths.roster_file
    with warehouse.get_connection() as conn:
        rows = load_roster(conn, path)
    return dg.MaterializeResult(metadata={"path": str(path), "communes": rows, "present": path.exists()})


defs = dg.Definitions(assets=[admin_units, roster])
