"""Ingestion: every file in `landing/` into the raw tables, archived or quarantined."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.ingest import worker
from pipelines.ingest.landing import landing_files
from pipelines.ingest.store import RAW_TABLES, ingest_landing
from pipelines.lib.resources import NtmSettings
from pipelines.settings import duckdb_memory_limit

RAW_KEYS = [dg.AssetKey(["raw", table]) for table in RAW_TABLES]
# A file is checked against the reference the warehouse holds (reference_rules.py): load it first.
REFERENCE_KEYS = [dg.AssetKey(["ref", "admin_units"]), dg.AssetKey(["ref", "roster"])]


@dg.multi_asset(
    specs=[dg.AssetSpec(key, group_name="raw", deps=REFERENCE_KEYS) for key in RAW_KEYS],
    description="Reads every new file in landing/ (submissions and claims) in worker processes within "
                "the limits, checks it against the reference and its receipt, loads accepted files' rows "
                "with lineage in one transaction, archives them by content hash, quarantines the rest "
                "beside a reasons file.",
)
def raw_files(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    paths = settings.paths.ensure()
    suite_results = []
    with warehouse.get_connection() as conn:
        conn.execute(f"set memory_limit = '{duckdb_memory_limit()}'")
        if landing_files(paths):
            from pipelines.quality.expectations import SuitesProcess

            with SuitesProcess.take() as suites:
                result = ingest_landing(paths, conn, validate_batch=suites, limits=settings.limits())
            suite_results = suites.results
        else:
            result = ingest_landing(paths, conn, limits=settings.limits())
    worker.release_workers()  # nothing later in a run parses: their memory goes back before dbt's steps
    context.log.info(f"ingested from {paths.landing}: {result.summary()}")
    for name in result.rejected:
        context.log.warning(f"rejected {name}: see {paths.quarantine} for the reasons file")
    by_table = {r.table: r for r in suite_results}
    for r in suite_results:
        if r.errors:
            context.log.error(f"Great Expectations suite {r.suite} could not run: {r.errors}")
    for key in RAW_KEYS:
        table = key.path[-1]
        suite = by_table.get(table)
        yield dg.MaterializeResult(asset_key=key, metadata={
            "new_rows": result.rows.get(table, 0),
            **({"accepted": len(result.accepted), "rejected": len(result.rejected),
                "duplicates": len(result.duplicates),
                "great_expectations": dg.MetadataValue.json([r.as_dict() for r in suite_results])}
               if table == "files" else {}),
            **({"ge_suite": suite.suite, "ge_success": suite.success, "ge_evaluated": suite.evaluated,
                "ge_unexpected": suite.unexpected, "ge_rows": suite.rows,
                "ge_failed": dg.MetadataValue.json(suite.failed)} if suite else {}),
        })


defs = dg.Definitions(assets=[raw_files])
