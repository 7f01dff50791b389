"""The one settings object, as the Dagster resource `settings` every asset receives.

dbt receives what it needs from it as `--vars` (`dbt_vars`).
"""

from pathlib import Path

import dagster as dg

from pipelines.settings import DEFAULT_POLICY_FILE, HomePaths, default_home


class NtmSettings(dg.ConfigurableResource):
    """Settings shared by every asset. `home` empty means `$NTM_HOME`, else `./data`."""

    home: str = ""
    # Criteria-met band edges, lower bounds of the bands below "all criteria" (domain.md).
    band_edges: list[int] = [15, 10, 5]
    # Day of the month after the period by which a report counts as timely.
    deadline_day: int = 10
    policy_file: str = str(DEFAULT_POLICY_FILE)

    @property
    def paths(self) -> HomePaths:
        return HomePaths(Path(self.home).resolve() if self.home else default_home())

    def dbt_vars(self) -> dict:
        # deadline_day: timeliness of reporting (dbt_project/models/audit/audit_reporting_completeness.sql)
        return {"band_edges": list(self.band_edges), "deadline_day": self.deadline_day}
