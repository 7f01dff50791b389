"""Publish: the read-only warehouse copy, its Parquet files and its catalogue, only after the gate passed."""


import dagster as dg

from pipelines.publish.catalogue import generate_docs
from pipelines.publish.publisher import publish
from pipelines.lib.resources import NtmSettings


@dg.asset(
    group_name="publish",
    deps=["quality_issues"],
    description="published/ntm.duckdb (atomic swap; tables of main, analytics views, descriptions as "
                "comments), published/parquet/, published/catalogue.html (dbt docs) and manifest.json. "
                "Runs only when quality_issues passed its blocking check.",
)
def published_warehouse(context: dg.AssetExecutionContext, settings: NtmSettings) -> dg.MaterializeResult:
    # The same vars and target as the run's dbt builds, so dbt reuses their parse (lib.dbt.parsed_manifest).
    docs = generate_docs(settings.paths.dbt_target,
                         {"warehouse_path": str(settings.paths.warehouse), **settings.dbt_vars()})
    context.log.info(f"dbt docs generate: {docs.seconds} s")
    manifest = publish(settings.paths, context.run.run_id, checks_passed=["quality_issues:no_open_errors"],
                       docs=docs)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(settings.paths.published_db)),
        "catalogue": dg.MetadataValue.path(str(settings.paths.published / "catalogue.html")),
        "catalogue_seconds": docs.seconds,
        "tables": len(manifest["row_counts"]),
        "views": len(manifest["views"]),
        "comments": manifest["comments"],
        **{f"rows.{table}": n for table, n in manifest["row_counts"].items()},
    })


defs = dg.Definitions(assets=[published_warehouse])
