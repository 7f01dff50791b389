"""The one dbt project of the code location, its manifest, the translator to Dagster assets, and
the one way dbt runs: `run_dbt` inside the calling process (`dbt_build` for the dbt assets)."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from pipelines.settings import DBT_PROJECT_DIR, duckdb_memory_limit

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)
# The month-incremental facts and marts (config tag `monthly`, macros/incremental.sql).
MONTHLY_SELECTOR = "tag:monthly"
# Monthly partitions of those models, from the first criteria set's start; end_offset=1 keeps the
# current month (whose reports arrive during it) a partition.
MONTHLY_PARTITIONS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_offset=1)


def unchanged_definitions(conn) -> list[dict]:
    """The nodes a changed-months run may leave out, in dependency order, when every one exists in
    the warehouse `conn` holds; else none. They are the seeds, the staging views (definitions only)
    and the models that read nothing but seeds and the reference (no `raw` table among their
    ancestors: the units and criteria dimensions, the roster's audit). With the project, vars and
    reference unchanged since the last build (lib/months.py's fingerprint), they hold what a build
    would re-create, as their tests found (about 3 s of a national month's first dbt step). A model
    a test shares with a node that is built stays built, so no test of built rows is left out."""
    manifest = json.loads(ensure_manifest().read_text("utf-8"))
    nodes, children = manifest["nodes"], manifest["child_map"]
    below_raw = _descendants(children, [uid for uid, source in manifest["sources"].items()
                                        if source["source_name"] == "raw"])
    below_monthly = _descendants(children, [uid for uid, node in nodes.items() if "monthly" in node["tags"]])
    kept = {uid for uid, node in nodes.items()
            if node["resource_type"] == "seed"
            or (node["resource_type"] == "model" and uid not in below_monthly
                and (node["original_file_path"].startswith("models/staging/") or uid not in below_raw))}
    # The first step's tests (those of the later steps read a monthly model). A kept node that shares
    # one with a built node is built, and so is everything it feeds.
    tests = [_parents(node) for uid, node in nodes.items() if node["resource_type"] == "test" and uid not in below_monthly]
    while shared := {uid for parents in tests if not set(parents) <= kept for uid in parents} & kept:
        kept -= _descendants(children, shared)
    chosen = [nodes[uid] for uid in _in_dependency_order(nodes, kept)]
    present = set(conn.execute("select schema_name, view_name from duckdb_views() where not internal "
                               "union select schema_name, table_name from duckdb_tables()").fetchall())
    return chosen if {(node["schema"], node["alias"]) for node in chosen} <= present else []


def _parents(node: dict) -> list[str]:
    return node.get("depends_on", {}).get("nodes", [])


def _descendants(children: dict[str, list[str]], roots) -> set[str]:
    """`roots` and every node below them in the manifest's child map."""
    found, stack = set(roots), list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _in_dependency_order(nodes: dict, chosen: set[str]) -> list[str]:
    """`chosen` with every node after the nodes it depends on (Dagster wants outputs in that order)."""
    from graphlib import TopologicalSorter

    graph = {uid: [parent for parent in _parents(nodes[uid]) if parent in chosen] for uid in sorted(chosen)}
    return list(TopologicalSorter(graph).static_order())


def left_out_selector(nodes: list[dict]) -> str:
    """A dbt `--exclude` for these nodes (names are unique across a project's models and seeds)."""
    return " ".join(node["name"] for node in nodes)


def month_range_tags(first_month: str, last_month: str) -> dict[str, str]:
    """Run tags that make one run of a job over the monthly partitions first_month..last_month
    (YYYY-MM): the incremental build of those months."""
    return {"dagster/asset_partition_range_start": f"{first_month}-01",
            "dagster/asset_partition_range_end": f"{last_month}-01"}


def full_build_tags() -> dict[str, str]:
    """Run tags for a full build (`ntm run --full`): every monthly partition in one run. Dagster
    cannot run the partitioned dbt assets without a partition (they depend on each other); the dbt
    asset sees the whole range and rebuilds every month."""
    keys = MONTHLY_PARTITIONS.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


def changed_months_tags() -> dict[str, str]:
    """Run tags of what `ntm run`, the landing sensor and the schedule launch: a build of the months
    changed since the last build (lib/months.py), which only the run itself finds out (its files
    are read in it). The run names the current month's partition, and the monthly dbt asset records
    the other months it rebuilt as materialisations of their partitions: Dagster's record of the
    run is the months it rebuilt, not every partition (a materialisation per model and partition
    costs Dagster's event log about 10 ms: 130 partitions of 6 models cost 8 s a run)."""
    from pipelines.lib.months import CHANGED, MONTHS_TAG

    return {"dagster/partition": MONTHLY_PARTITIONS.get_last_partition_key(), MONTHS_TAG: CHANGED}
_SOURCES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        for file in files:
            newest = max(newest, file.stat().st_mtime)
    return newest


def dbt_executable() -> str:
    """dbt beside this Python (the project's environment), so an unactivated venv still works."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else "dbt"


def ensure_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    """Parse the dbt project only when the manifest is missing or older than the project's files,
    so that loading the definitions costs a directory listing, not a dbt parse. Processes loading
    the definitions at once (the UI's, a run's, two test processes) parse one after the other, and
    those that waited find the manifest fresh."""
    from filelock import FileLock

    manifest = project.manifest_path

    def fresh() -> bool:
        return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir)

    if fresh():
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(manifest.with_name(".parse.lock")):
        if not fresh():
            subprocess.run(
                [dbt_executable(), "parse", "--quiet", "--profiles-dir", str(project.profiles_dir)],
                cwd=project.project_dir, check=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            )
    return manifest


class NtmDbtTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folders (staging, intermediate, marts, audit); seeds are reference data."""

    def __init__(self):
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "marts"

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        """dbt tests as non-blocking checks. dagster-dbt makes an error-severity test blocking, which
        fails its step and stops the run (exit 1) before the audit; here a failing test becomes a
        DBT_TEST_FAILED issue, and the one gate, `quality_issues:no_open_errors`, withholds publication."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or not spec.blocking:
            return spec
        return dg.AssetCheckSpec(name=spec.name, asset=spec.asset_key, description=spec.description,
                                 additional_deps=spec.additional_deps, blocking=False, metadata=spec.metadata,
                                 automation_condition=spec.automation_condition, partitions_def=spec.partitions_def)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])


# dbt's result events: the ones dagster-dbt turns into materialisations and asset check results.
_RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


class DbtBuildFailed(Exception):
    pass


def run_dbt(args: list[str], dbt_vars: Mapping[str, Any], target_path: Path,
            environment: Mapping[str, str | None] | None = None, callbacks: list | None = None):
    """`dbt <args>` in this process with dbt's programmatic runner (`dbtRunnerResult`), not as a
    process of its own: on the 2-core machines this runs on, a dbt process costs about 7 s of
    starting and stopping (its import alone is 3 s) against 1-10 s of work per step. The project is
    parsed once per process, target and vars (`parsed_manifest`). `environment` is dbt's for the
    invocation (the month window, macros/incremental.sql). Afterwards the warehouse file is free."""
    from dbt.cli.main import dbtRunner

    common = ["--quiet", "--project-dir", str(DBT_PROJECT.project_dir), "--profiles-dir", str(DBT_PROJECT.profiles_dir),
              "--vars", json.dumps(dict(dbt_vars), sort_keys=True), "--target-path", str(target_path),
              "--log-path", str(target_path),
              # dbt.log at debug level formats and writes every event, SQL included, from dbt's threads
              # under one lock: 2-4 s of a month's run on 2 cores. Failures reach the run's log anyway.
              "--log-level-file", "none"]
    base = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NTM_DBT_MEMORY_LIMIT": duckdb_memory_limit("dbt")}
    try:
        # Parsed without the invocation's variables (month windows, read when models run): dbt keeps
        # the values a parse saw, and a changed one makes the next process parse the project again
        # in full (5 s), where an unchanged project needs only a partial parse.
        with _environment({**base, **{name: None for name in environment or {}}}):
            manifest = parsed_manifest(common)  # writes manifest.json: `docs generate --static` reads it
        # A build's results come back in memory (and through `callbacks`): its manifest.json and
        # run_results.json, written at its end, would cost half a second of each of the three steps.
        quiet = ["--no-write-json"] if args[:1] == ["build"] else []
        with _environment({**base, **(environment or {})}):
            return dbtRunner(manifest=manifest, callbacks=callbacks or []).invoke([*args, *common, *quiet])
    finally:
        from pipelines.lib.dbt_private import release_duckdb

        release_duckdb()


def dbt_build(context: dg.AssetExecutionContext, args: list[str], dbt_vars: Mapping[str, Any], target_path: Path,
              environment: Mapping[str, str | None] | None = None) -> tuple[list, list[tuple]]:
    """`dbt build <args>` of the context's selection (`run_dbt`): (Dagster events for the models and
    tests that ran, (unique_id, status, failures, message) of every node dbt ran).

    In place of dagster-dbt's `DbtCliResource.cli`, which starts a dbt process per invocation (and
    runs `dbt --version` first). The selection and the events are dagster-dbt's own, through the
    adapter `lib.dbt_private`, so assets and asset checks are the same as with it.
    """
    if os.environ.get("NTM_DBT_RUNNER") == "cli":
        return _dbt_build_cli(context, args, dbt_vars, target_path, environment)
    from dbt_common.events.functions import msg_to_dict

    from pipelines.lib.dbt_private import asset_events, step_selection

    arguments, params = step_selection(context, ["build", *args], DBT_PROJECT)
    raw_events: list[dict] = []

    def collect(event) -> None:  # called from dbt's threads; list.append is atomic
        if event.info.name in _RESULT_EVENTS:
            raw_events.append(msg_to_dict(event))

    variables = dict(environment or {})
    if params.indirect_selection:
        variables["DBT_INDIRECT_SELECTION"] = params.indirect_selection
    outcome = run_dbt(arguments, dbt_vars, target_path, variables, [collect])
    if outcome.exception is not None:
        raise DbtBuildFailed(f"dbt {' '.join(arguments[:1])} failed: {outcome.exception}") from outcome.exception
    events = []
    for raw in raw_events:
        events.extend(asset_events(raw, params, context, target_path, DBT_PROJECT))
    if raw_events:  # one log entry for the step's nodes: with DAGSTER_HOME each entry is a write
        context.log.info(f"dbt build, {len(raw_events)} node(s):\n" + "\n".join(raw["info"]["msg"] for raw in raw_events))
    nodes = [(r.node.unique_id, r.status.value, r.failures, r.message) for r in outcome.result.results]
    return events, nodes


def _dbt_build_cli(context, args, dbt_vars, target_path, environment) -> tuple[list, list[tuple]]:
    """`dbt_build` through dagster-dbt's public `DbtCliResource` (a dbt process per step): what
    `NTM_DBT_RUNNER=cli` selects, to measure against the in-process runner and as the way out
    should an upgrade break the private names `lib.dbt_private` uses."""
    from dagster_dbt import DbtCliResource

    dbt = DbtCliResource(project_dir=DBT_PROJECT, dbt_executable=dbt_executable())
    common = ["--vars", json.dumps(dict(dbt_vars), sort_keys=True)]
    with _environment({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **(environment or {})}):
        invocation = dbt.cli(["build", *args, *common], context=context, target_path=target_path,
                             raise_on_error=False)
        events = list(invocation.stream())
    results = invocation.get_artifact("run_results.json")["results"]
    nodes = [(r["unique_id"], r["status"], r.get("failures"), r.get("message")) for r in results]
    if not invocation.is_successful() and not nodes:
        raise DbtBuildFailed(f"dbt build failed: {invocation.get_error()}")
    return events, nodes


# Parsed projects of this process by dbt arguments: (newest project file's mtime, dbt Manifest).
PARSED_MANIFESTS: dict[tuple[str, ...], tuple[float, Any]] = {}


_freeze_parses = False


@contextlib.contextmanager
def parses_live_for_the_run() -> Iterator[None]:
    """Inside, a parse is frozen (`gc.freeze`) once made: it lives as long as the run, and no garbage
    collection need scan it again (`ntm run`, cli.py). Outside, a long-lived process (the UI's code
    server, a test session) keeps its parses collectable, since a changed project replaces them."""
    global _freeze_parses
    _freeze_parses = True
    try:
        yield
    finally:
        _freeze_parses = False


def parsed_manifest(common_args: list[str]):
    """The project parsed with these arguments (vars, target), kept for this process while the
    project's files are unchanged: a run's three dbt steps share one parse instead of loading and
    checking it three times. The month window is read when models run, not when they are parsed,
    so one parse serves every window."""
    from dbt.cli.main import dbtRunner

    key = tuple(common_args)
    newest = _newest_source_mtime(DBT_PROJECT.project_dir)
    cached = PARSED_MANIFESTS.get(key)
    if cached is not None and cached[0] == newest:
        return cached[1]
    outcome = dbtRunner().invoke(["parse", *common_args])
    if not outcome.success:
        raise DbtBuildFailed(f"dbt parse failed: {outcome.exception}")
    PARSED_MANIFESTS[key] = (newest, outcome.result)
    if _freeze_parses:
        gc.freeze()
    return outcome.result
