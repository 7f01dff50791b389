"""The private parts of dagster-dbt and dbt-duckdb behind `pipelines/lib/dbt_private.py`.

The first test fails on an upgrade that renames or reshapes any of them; the second runs a real
subset of the dbt assets over dagster-dbt's selector threshold (lowered, as the project has ~200
nodes in all), which the in-process runner could not run before.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import dagster as dg
import dagster_dbt.asset_utils as asset_utils

from pipelines.lib import dbt_private


def _parameters(function) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_the_private_names_the_adapter_uses_still_exist_and_behave():
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    assert isinstance(asset_utils._SELECTION_ARGS_THRESHOLD, int)
    assert {"context", "manifest", "dagster_dbt_translator", "runtime_selects", "runtime_excludes"} <= \
        _parameters(dbt_private.get_updated_cli_invocation_params_for_context)
    assert dbt_private.extract_runtime_selection_from_args(
        ["build", "--select", "a b", "--exclude-resource-type", "unit_test"]) == \
        (["build", "--exclude-resource-type", "unit_test"], ["a", "b"], [])
    # Outside a step (no context) the selection is the runtime one, unchanged.
    params = dbt_private.get_updated_cli_invocation_params_for_context(
        context=None, manifest={}, dagster_dbt_translator=dbt_private.DagsterDbtTranslator(),
        runtime_selects=["a"], runtime_excludes=["b"])
    assert list(params.selection_args) == ["--exclude", "b", "--select", "a"]
    for used in ("manifest", "dagster_dbt_translator", "indirect_selection", "dbt_project"):
        getattr(params, used)
    assert {"raw_event", "event_history_metadata"} <= _parameters(dbt_private.DbtCoreCliEventMessage)
    assert {"manifest", "dagster_dbt_translator", "context", "target_path", "project"} <= \
        _parameters(dbt_private.DbtCoreCliEventMessage.to_default_asset_events)
    assert hasattr(DuckDBConnectionManager, "_ENV") and callable(DuckDBConnectionManager.close_all_connections)


def test_a_subset_over_the_selector_threshold_runs_in_process(home, monkeypatch):
    from pipelines.definitions import PIPELINE_JOB, build_definitions
    from pipelines.lib.dbt import full_build_tags

    monkeypatch.setattr(asset_utils, "_SELECTION_ARGS_THRESHOLD", 3)
    defs = build_definitions(home.home)
    selection = dg.AssetSelection.groups("raw", "reference", "staging")
    keys = selection.resolve(defs.resolve_asset_graph())
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(PIPELINE_JOB).execute_in_process(
        asset_selection=list(keys), raise_on_error=False, tags=full_build_tags(), instance=instance)
    assert result.success
    done = {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert {dg.AssetKey("stg_submissions"), dg.AssetKey("criteria_sets")} <= done  # staging and seeds ran
    # The step's dbt nodes in one log entry (each entry is a write to a persistent instance's log).
    summaries = [entry.user_message for entry in instance.all_logs(result.run_id)
                 if entry.user_message.startswith("dbt build, ")]
    assert len(summaries) == 1 and "stg_submissions" in summaries[0] and "criteria_sets" in summaries[0]
    assert dg.AssetKey("dim_period") not in done and dg.AssetKey("mart_unit_month") not in done  # and only them
    # dbt let go of the warehouse: another process may write it.
    subprocess.run([sys.executable, "-c", f"import duckdb; duckdb.connect({str(home.warehouse)!r}).close()"],
                   check=True, timeout=60)
