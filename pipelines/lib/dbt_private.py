"""The private parts of dagster-dbt and dbt-duckdb the in-process dbt runner needs, in one place.

dagster-dbt's public way to run dbt, `DbtCliResource.cli`, starts a dbt process per invocation;
on this project's machines that costs several seconds per dbt step (docs/architecture.md, "Start-up
cost"), so `lib.dbt.run_dbt` runs dbt in the calling process instead and borrows from dagster-dbt
what makes the run's assets and checks the same as with `DbtCliResource`: the selection of the
step's subset and the conversion of dbt's events. Those functions are not public API, and may
change in any release: tests/test_dbt_adapter.py checks each name, signature and behaviour used
here, so an upgrade that breaks one fails there, loudly, rather than in a run.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import yaml
from dagster_dbt import DagsterDbtTranslator, DbtProject

# dagster-dbt 0.29: the step's selection, and dbt events → Dagster events.
from dagster_dbt.asset_utils import (  # noqa: F401 (re-exported for the adapter test)
    _SELECTION_ARGS_THRESHOLD,
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage


def step_selection(context, args: list[str], project: DbtProject) -> tuple[list[str], Any]:
    """(dbt arguments with the step's selection, dagster-dbt's invocation params) for `dbt <args>`
    run for the assets and checks of `context`'s step.

    Above dagster-dbt's selector threshold (a subset of over 200 nodes) dagster-dbt writes the
    selection as a YAML selector into a temporary copy of the project, for a command line that
    would be too long; dbt run in this process has no command line, so the selector is read back
    into --select/--exclude and the copy removed."""
    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=DagsterDbtTranslator(),
        runtime_selects=selects, runtime_excludes=excludes)
    selection = list(params.selection_args)
    if selection[:1] == ["--selector"] and params.dbt_project is not None and \
            Path(params.dbt_project.project_dir) != Path(project.project_dir):
        selection = _selector_as_arguments(Path(params.dbt_project.project_dir), selection[1])
    return [*cleaned, *selection], params


def _selector_as_arguments(copy_dir: Path, name: str) -> list[str]:
    """dagster-dbt's generated selector (a union of nodes, with an `exclude` entry) as arguments."""
    try:
        selectors = yaml.safe_load((copy_dir / "selectors.yml").read_text("utf-8"))["selectors"]
        [union] = [s["definition"]["union"] for s in selectors if s["name"] == name]
    finally:
        shutil.rmtree(copy_dir, ignore_errors=True)  # a whole project copy per step otherwise stays
    selects = [item for item in union if isinstance(item, str)]
    excludes = [x for item in union if isinstance(item, dict) for x in item.get("exclude", [])]
    return ["--select", " ".join(selects), *(["--exclude", " ".join(excludes)] if excludes else [])]


def asset_events(raw_event: dict, params, context, target_path: Path, project: DbtProject) -> list:
    """The Dagster events (materialisations, check results) of one dbt result event (a dict of
    dbt's structured log message), as `DbtCliResource.cli(...).stream()` would yield them."""
    return list(DbtCoreCliEventMessage(raw_event=raw_event, event_history_metadata={}).to_default_asset_events(
        manifest=params.manifest, dagster_dbt_translator=params.dagster_dbt_translator, context=context,
        target_path=target_path, project=project))


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after an invocation (its
    class-level `_ENV`), so the warehouse file is free again for our own connections and for other
    processes."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None and getattr(environment, "conn", None) is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
    gc.collect()
