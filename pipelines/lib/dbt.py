"""The one dbt project of the code location, its manifest, and the translator to Dagster assets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from pipelines.settings import DBT_PROJECT_DIR

DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR)
# The month-incremental facts and marts (config tag `monthly`, macros/incremental.sql).
MONTHLY_SELECTOR = "tag:monthly"
# Monthly partitions of those models, from the first criteria set's start; end_offset=1 keeps the
# current month (whose reports arrive during it) a partition.
MONTHLY_PARTITIONS = dg.MonthlyPartitionsDefinition(start_date="2016-01-01", end_offset=1)


def month_range_tags(first_month: str, last_month: str) -> dict[str, str]:
    """Run tags that make one run of a job over the monthly partitions first_month..last_month
    (YYYY-MM): the incremental build of those months."""
    return {"dagster/asset_partition_range_start": f"{first_month}-01",
            "dagster/asset_partition_range_end": f"{last_month}-01"}


def full_build_tags() -> dict[str, str]:
    """Run tags for a full build: every monthly partition in one run. Dagster cannot run the
    partitioned dbt assets without a partition (they depend on each other), so `ntm run`, the
    sensor and the schedule launch the pipeline job over the whole range; the dbt asset sees the
    whole range and rebuilds every month."""
    keys = MONTHLY_PARTITIONS.get_partition_keys()
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
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
    so that loading the definitions costs a directory listing, not a dbt parse."""
    manifest = project.manifest_path
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project.project_dir):
        return manifest
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

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return dg.AssetKey([dbt_resource_props["name"]])
