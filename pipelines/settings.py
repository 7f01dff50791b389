"""The one settings object: where the home is and what lives in it.

Read from `--home` or `$NTM_HOME` (default `./data`). Assets receive it as the `settings`
resource; dbt receives the paths it needs as `--vars`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"
DEFAULT_POLICY_FILE = PROJECT_ROOT / "pipelines" / "quality" / "policy.toml"


def default_home() -> Path:
    return Path(os.environ.get("NTM_HOME") or "data").resolve()


@dataclass(frozen=True)
class HomePaths:
    """Every path under a home directory (contract §4)."""

    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def reference(self) -> Path:
        return self.home / "reference"

    @property
    def roster_file(self) -> Path:
        return self.reference / "roster.csv"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.home / "published"

    @property
    def published_db(self) -> Path:
        return self.published / "ntm.duckdb"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dbt_target(self) -> Path:
        return self.home / ".dbt-target"

    def ensure(self) -> "HomePaths":
        for path in (self.landing, self.reference, self.archive, self.quarantine, self.published, self.reports):
            path.mkdir(parents=True, exist_ok=True)
        return self


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
