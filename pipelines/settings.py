"""Where the home is and what lives in it; the project's fixed paths.

The home comes from `--home` or `$NTM_HOME` (default `./data`). The settings object that assets
receive is the Dagster resource `pipelines.lib.resources.NtmSettings`, built on these paths; this
module imports no Dagster, so `ntm validate` and `ntm --help` start fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
