"""dbt models, seeds and tests as Dagster assets and asset checks, in three parts.

- `ntm_dbt_models` (unpartitioned): seeds, staging, intermediate and the dimensions.
- `ntm_dbt_monthly` (monthly partitions): the month-incremental facts and marts (dbt tag `monthly`).
  A run sets `NTM_MIN_MONTH`/`NTM_MAX_MONTH` in dbt's environment and rebuilds and tests only those
  months: the partition range the run names, or, for a run tagged `ntm/months=changed` (`ntm run`,
  the landing sensor, the schedule; it names the current month's partition), the months changed
  since the last build (lib/months.py), each recorded as a materialisation of its partition. A
  run over every partition without the tag (`ntm run --full`) rebuilds every month.
- `ntm_dbt_checks` (unpartitioned): what reads the monthly tables as a whole, claim reconciliation
  and the audit models.

All three sit in the one `ntm_pipeline` job. Dagster cannot run partitioned assets that depend on
each other without a partition, so every run of the job names a partition or a range
(pipelines/lib/dbt.py): `changed_months_tags()`, `full_build_tags()` or `month_range_tags(first,
last)`. Unpartitioned assets (ingest, staging, audit, publish) run whole in any of them.
"""


import datetime as dt

import dagster as dg
from dagster_dbt import dbt_assets
from dagster_duckdb import DuckDBResource

from pipelines.lib.dbt import (
    DBT_PROJECT,
    MONTHLY_PARTITIONS,
    MONTHLY_SELECTOR,
    DbtBuildFailed,
    NtmDbtTranslator,
    dbt_build,
    left_out_selector,
    unchanged_definitions,
    ensure_manifest,
)
from pipelines.lib import months
from pipelines.quality.issues import record_test_results
from pipelines.lib.resources import NtmSettings


def month_window(context: dg.AssetExecutionContext) -> dict:
    """`min_month`/`max_month` (YYYY-MM, inclusive) of a partitioned run; empty for a full build
    (no partition, or every partition, so that months outside the partitions are rebuilt too)."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return {}
    keys = MONTHLY_PARTITIONS.get_partition_keys()
    if context.has_partition_key_range and context.partition_key_range == dg.PartitionKeyRange(keys[0], keys[-1]):
        return {}
    window = context.partition_time_window
    last_month = window.end - dt.timedelta(days=1)
    return {"min_month": window.start.strftime("%Y-%m"), "max_month": last_month.strftime("%Y-%m")}


def _dbt_build(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource,
               window: dict | None = None, from_month: str | None = None, full_refresh: bool = False,
               exclude: str | None = None):
    """`dbt build` of the context's selection (for `window`'s months only, when given), in this
    process (`lib.dbt.dbt_build`). A failing data test is reported (it becomes a failed asset check
    and a quality issue) rather than stopping the run; a model that fails to build stops it.

    dbt unit tests check the SQL, not the data: they run in CI and in development (`make test`,
    `dbt build`), not in every load, as dbt recommends for production builds. The month window
    reaches dbt as environment variables (macros/incremental.sql), not --vars: changed --vars make
    dbt re-parse the whole project. `from_month` is where the intermediate models incremental by
    period start to rebuild; `full_refresh` recreates them (and the seeds); `exclude` leaves nodes out."""
    window = window or {}
    dbt_vars = {"warehouse_path": str(settings.paths.warehouse), **settings.dbt_vars()}
    # A target folder per home keeps dbt's partial parse between runs (a fresh one re-parses all).
    events, nodes = dbt_build(
        context, ["--exclude-resource-type", "unit_test", *(["--full-refresh"] if full_refresh else []),
                  *(["--exclude", exclude] if exclude else [])],
        dbt_vars, settings.paths.dbt_target,
        environment={"NTM_MIN_MONTH": window.get("min_month"), "NTM_MAX_MONTH": window.get("max_month"),
                     "NTM_FROM_MONTH": from_month})
    yield from events
    tests = [node for node in nodes if node[0].startswith("test.")]
    with warehouse.get_connection() as conn:  # dbt has let go of the warehouse: it is ours again
        # Per test and window: a window run clears only the failures it re-tested (quality/issues.py).
        record_test_results(conn, tests, window)
    broken = [(unique_id, message) for unique_id, status, _, message in nodes
              if status == "error" and not unique_id.startswith("test.")]
    if broken:
        raise DbtBuildFailed("; ".join(f"{unique_id}: {message}" for unique_id, message in broken))


@dbt_assets(manifest=ensure_manifest(), project=DBT_PROJECT, dagster_dbt_translator=NtmDbtTranslator(),
            exclude=f"{MONTHLY_SELECTOR}+")
def ntm_dbt_models(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    """`dbt build` of seeds, staging, intermediate models and dimensions, each followed by its tests.
    A changed-months run rebuilds the intermediate models incremental by period from the first month
    received since the last build (lib/months.py `rebuild_from`), and leaves out the seeds, staging
    views and the models that read only seeds and the reference when the project, vars and reference
    are unchanged and they exist (`unchanged_definitions`); any other run builds all."""
    from_month, left_out = None, []
    if context.run.tags.get(months.MONTHS_TAG) == months.CHANGED:
        with warehouse.get_connection() as conn:
            from_month, reason = months.rebuild_from(conn, settings.dbt_vars())
            if from_month is not None:
                left_out = unchanged_definitions(conn)
        context.log.info(f"intermediate models by period: rebuilding "
                         f"{'from ' + from_month if from_month else 'every month'}: {reason}"
                         f"{'; seeds, staging views and models of the reference unchanged, left out: ' + str(len(left_out)) if left_out else ''}")
    yield from _left_out(context, left_out)
    yield from _dbt_build(context, settings, warehouse, from_month=from_month, full_refresh=from_month is None,
                          exclude=left_out_selector(left_out) if left_out else None)


def _left_out(context: dg.AssetExecutionContext, nodes: list[dict]):
    """Outputs for the nodes a changed-months run left out as unchanged: they hold what a build would
    re-create, and the steps downstream wait on them (an output not yielded skips them). Every node
    they depend on is left out too (`unchanged_definitions`), in dependency order, so yielding them
    first keeps the outputs in dependency order."""
    translator = NtmDbtTranslator()
    for node in nodes:
        key = translator.get_asset_key(node)
        if key in context.selected_asset_keys:
            yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
                            metadata={"ntm/unchanged": "the project is unchanged since the last build: not re-created"})


@dbt_assets(manifest=ensure_manifest(), project=DBT_PROJECT, dagster_dbt_translator=NtmDbtTranslator(),
            select=MONTHLY_SELECTOR, name="ntm_dbt_monthly", partitions_def=MONTHLY_PARTITIONS,
            backfill_policy=dg.BackfillPolicy.single_run())
def ntm_dbt_monthly(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    """`dbt build` of the month-incremental facts and marts for the run's months: a partition range
    the run names, the months changed since the last build (`ntm/months=changed`, lib/months.py),
    or every month."""
    changed = context.run.tags.get(months.MONTHS_TAG) == months.CHANGED
    window = {} if changed else month_window(context)
    plan = None  # chosen months (a UI range) are the operator's: the ledger does not record them
    if not window:
        with warehouse.get_connection() as conn:
            plan = months.plan(conn, settings.dbt_vars(), full=not changed)
        window = plan.window or {}
        context.log.info(plan.describe())
    else:
        context.log.info(f"rebuilding months {window['min_month']}..{window['max_month']}")
    yield from _dbt_build(context, settings, warehouse, window)
    if plan is not None:  # the models built (a failing model raised): the ledger learns the build
        with warehouse.get_connection() as conn:
            months.record(conn, plan, context.run.run_id)
        if changed:
            yield from _rebuilt_partitions(context, plan)


def _rebuilt_partitions(context: dg.AssetExecutionContext, plan: months.MonthPlan):
    """A changed-months run names one partition (`changed_months_tags`): the other months it rebuilt
    are recorded as materialisations of their partitions. A full build records the months the
    warehouse covers; months without data have nothing to rebuild."""
    first, last = ((plan.window["min_month"], plan.window["max_month"]) if plan.window
                   else (plan.first_month, plan.last_month))
    if first is None:
        return
    own = set(context.partition_keys)
    rebuilt = [key for key in MONTHLY_PARTITIONS.get_partition_keys()
               if first <= key[:7] <= last and key not in own]
    for key in rebuilt:
        for asset_key in sorted(context.selected_asset_keys):
            yield dg.AssetMaterialization(asset_key=asset_key, partition=key,
                                          metadata={"ntm/months": f"{first}..{last}"})


@dbt_assets(manifest=ensure_manifest(), project=DBT_PROJECT, dagster_dbt_translator=NtmDbtTranslator(),
            select=f"{MONTHLY_SELECTOR}+", exclude=MONTHLY_SELECTOR, name="ntm_dbt_checks")
def ntm_dbt_checks(context: dg.AssetExecutionContext, settings: NtmSettings, warehouse: DuckDBResource):
    """`dbt build` of claim reconciliation and the audit models, which read the monthly tables whole."""
    yield from _dbt_build(context, settings, warehouse)


defs = dg.Definitions(assets=[ntm_dbt_models, ntm_dbt_monthly, ntm_dbt_checks])
