"""The one settings object, as the Dagster resource `settings` every asset receives.

dbt receives what it needs from it as `--vars` (`dbt_vars`).
"""

from pathlib import Path

import dagster as dg

from pipelines.settings import DEFAULT_POLICY_FILE, HomePaths, default_home


class NtmSettings(dg.ConfigurableResource):
    """Settings shared by every asset. `home` empty means `$NTM_HOME`, else `./data`.

    Every asset that writes the home receives this resource, so a run of the pipeline job holds
    the home's writer lock (`pipelines.lock`) from the resource's setup to its teardown, whoever
    launched it (`ntm run`, the UI, the sensor, the schedule). A run that finds the home held fails
    before any step writes; under `ntm run`, which holds the lock already, taking it again is free."""

    home: str = ""
    # Criteria-met band edges, lower bounds of the bands below "all criteria" (domain.md).
    band_edges: list[int] = [15, 10, 5]
    # Day of the month after the period by which a report counts as timely.
    deadline_day: int = 10
    policy_file: str = str(DEFAULT_POLICY_FILE)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from pipelines.lock import acquire

        run_id = context.run.run_id if context.run else "?"
        acquire(self.paths.home, command=f"dagster run {run_id[:8]}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        from pipelines.lock import release

        release(self.paths.home)

    @property
    def paths(self) -> HomePaths:
        return HomePaths(Path(self.home).resolve() if self.home else default_home())

    def dbt_vars(self) -> dict:
        # deadline_day: timeliness of reporting (dbt_project/models/audit/audit_reporting_completeness.sql)
        return {"band_edges": list(self.band_edges), "deadline_day": self.deadline_day}
