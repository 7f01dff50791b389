"""Publish: the read-only warehouse copy and Parquet files, only after the gate passed."""


import dagster as dg

from pipelines.publish.publisher import publish
from pipelines.lib.resources import NtmSettings


@dg.asset(
    group_name="publish",
    deps=["quality_issues"],
    description="published/ntm.duckdb (atomic swap), published/parquet/ and manifest.json. Runs only when "
                "quality_issues passed its blocking check.",
)
def published_warehouse(context: dg.AssetExecutionContext, settings: NtmSettings) -> dg.MaterializeResult:
    manifest = publish(settings.paths, context.run.run_id, checks_passed=["quality_issues:no_open_errors"])
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(settings.paths.published_db)),
        "tables": len(manifest["row_counts"]),
        **{f"rows.{table}": n for table, n in manifest["row_counts"].items()},
    })


defs = dg.Definitions(assets=[published_warehouse])
