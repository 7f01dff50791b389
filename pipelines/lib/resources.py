"""The one settings object, as the Dagster resource `settings` every asset receives.

dbt receives what it needs from it as `--vars` (`dbt_vars`).
"""

from pathlib import Path

import dagster as dg

from pipelines.settings import DEFAULT_POLICY_FILE, HomePaths, Limits, default_home


class NtmSettings(dg.ConfigurableResource):
    """Settings shared by every asset. `home` empty means `$NTM_HOME`, else `./data`."""

    home: str = ""
    # Criteria-met band edges, lower bounds of the bands below "all criteria" (domain.md).
    band_edges: list[int] = [15, 10, 5]
    # Day of the month after the period by which a report counts as timely.
    deadline_day: int = 10
    policy_file: str = str(DEFAULT_POLICY_FILE)
    # Limits on one received file (pipelines.settings.Limits; docs/ingestion.md). Unset: the
    # environment variable (NTM_MAX_FILE_MB, ...), else the default.
    max_file_mb: float | None = None
    max_zip_members: int | None = None
    max_expanded_mb: float | None = None
    max_compression_ratio: float | None = None
    max_cells_per_sheet: int | None = None
    worker_memory_mb: float | None = None
    file_timeout_s: float | None = None

    def limits(self) -> Limits:
        return Limits.from_env(**{name: getattr(self, name) for name in Limits.ENV if hasattr(self, name)})

    @property
    def paths(self) -> HomePaths:
        return HomePaths(Path(self.home).resolve() if self.home else default_home())

    def dbt_vars(self) -> dict:
        # deadline_day: timeliness of reporting (dbt_project/models/audit/audit_reporting_completeness.sql)
        return {"band_edges": list(self.band_edges), "deadline_day": self.deadline_day}
