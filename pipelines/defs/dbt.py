"""dbt models, seeds and tests as Dagster assets and asset checks."""


import json

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
from dagster_duckdb import DuckDBResource

from pipelines.lib.dbt import DBT_PROJECT, NtmDbtTranslator, dbt_executable, ensure_manifest
from pipelines.quality.issues import record_test_results
from pipelines.settings import NtmSettings


class DbtBuildFailed(Exception):
    pass


@dbt_assets(manifest=ensure_manifest(), project=DBT_PROJECT, dagster_dbt_translator=NtmDbtTranslator())
def ntm_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: NtmSettings, warehouse: DuckDBResource
):
    """`dbt build`: seeds, staging, intermediate, marts and audit models, each followed by its tests.

    A failing data test is reported (it becomes a failed asset check and a quality issue) rather
    than stopping the run; a model that fails to build stops it.
    """
    dbt_vars = {"warehouse_path": str(settings.paths.warehouse), **settings.dbt_vars()}
    # A target folder per home keeps dbt's partial parse between runs (a fresh one re-parses all).
    invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context, raise_on_error=False,
                         target_path=settings.paths.dbt_target)
    yield from invocation.stream()
    results = invocation.get_artifact("run_results.json").get("results", [])
    tests = [(r["unique_id"], r["status"], r.get("failures"), r.get("message")) for r in results
             if r["unique_id"].startswith("test.")]
    with warehouse.get_connection() as conn:  # dbt has exited: the warehouse is ours again
        record_test_results(conn, tests)
    broken = [r for r in results if r["status"] == "error" and not r["unique_id"].startswith("test.")]
    if broken:
        raise DbtBuildFailed("; ".join(f"{r['unique_id']}: {r.get('message')}" for r in broken))


defs = dg.Definitions(
    assets=[ntm_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())},
)
