"""The Dagster code location: every asset, check, job, sensor and schedule, and their resources.

`ntm run` executes the same definitions in-process; `dagster dev` shows them in the UI.
"""


from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs import dbt, ingest, publish, quality, reference, reports
from pipelines.lib.dbt import full_build_tags
from pipelines.lib.resources import NtmSettings

PIPELINE_JOB = "ntm_pipeline"


def build_definitions(home: str | Path | None = None) -> dg.Definitions:
    settings = NtmSettings(home=str(home) if home else "")
    pipeline = dg.define_asset_job(
        PIPELINE_JOB,
        selection=dg.AssetSelection.all(),
        description="Ingest landing/, build the warehouse, audit it, publish if no open error issue.",
        # One process writes the DuckDB warehouse at a time: steps run one after another, and the
        # run queue (dagster.yaml) admits one run of this job at a time.
        executor_def=dg.in_process_executor,
        tags={"ntm/warehouse": "write"},
    )

    @dg.sensor(job=pipeline, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def landing_sensor(context: dg.SensorEvaluationContext):
        """Launches the pipeline when files wait in landing/; the same waiting set never launches twice."""
        fingerprint = ingest.landing_fingerprint(settings)
        if fingerprint is None or fingerprint == context.cursor:
            return dg.SkipReason("no new file in landing/")
        context.update_cursor(fingerprint)
        # A full build: every monthly partition in one run (see pipelines/defs/dbt.py).
        return dg.RunRequest(run_key=f"landing-{fingerprint}", tags=full_build_tags())

    @dg.schedule(
        job=pipeline,
        # The day after the reporting deadline (settings.deadline_day), early morning in Vietnam.
        cron_schedule=f"0 5 {settings.deadline_day + 1} * *",
        execution_timezone="Asia/Ho_Chi_Minh",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def monthly_build(context: dg.ScheduleEvaluationContext):
        """The whole pipeline over every month, once the month's reports are due."""
        return dg.RunRequest(tags=full_build_tags())

    layers = dg.Definitions.merge(reference.defs, ingest.defs, dbt.defs, quality.defs, publish.defs, reports.defs)
    return dg.Definitions.merge(layers, dg.Definitions(
        jobs=[pipeline],
        sensors=[landing_sensor],
        schedules=[monthly_build],
        resources={
            "settings": settings,
            "warehouse": DuckDBResource(database=str(settings.paths.warehouse)),
        },
    ))


defs = build_definitions()
