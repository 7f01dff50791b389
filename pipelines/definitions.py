"""The Dagster code location: every asset, check, job, sensor and schedule, and their resources.

`ntm run` executes the same definitions in-process; `dagster dev` shows them in the UI.
"""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs import alerts, dbt, ingest, publish, quality, reference, reports, sensors
from pipelines.lib.resources import NtmSettings

PIPELINE_JOB = "ntm_pipeline"


def build_definitions(home: str | Path | None = None) -> dg.Definitions:
    settings = NtmSettings(home=str(home) if home else "")
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest landing/, build the warehouse, audit it, publish if no open error issue.",
        # One process writes the DuckDB warehouse at a time: steps run one after another, the run
        # holds the home's lock (the settings resource, pipelines/lock.py), and the run queue
        # (dagster.yaml) admits one run of this job at a time.
        executor_def=dg.in_process_executor,
        tags={"ntm/warehouse": "write"},
    )

    layers = dg.Definitions.merge(reference.defs, ingest.defs, dbt.defs, quality.defs, publish.defs, reports.defs,
                                  alerts.defs)
    return dg.Definitions.merge(layers, dg.Definitions(
        jobs=[pipeline],
        sensors=[sensors.build_landing_sensor(settings, pipeline)],
        schedules=[sensors.build_monthly_schedule(settings, pipeline)],
        resources={
            "settings": settings,
            "warehouse": DuckDBResource(database=str(settings.paths.warehouse)),
        },
    ))


defs = build_definitions()
