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

    @property
    def receipts(self) -> Path:
        """When each file in landing/ was first seen (pipelines/ingest/receipts.py)."""
        return self.home / ".ntm" / "receipts.jsonl"

    def ensure(self) -> "HomePaths":
        for path in (self.landing, self.reference, self.archive, self.quarantine, self.published, self.reports):
            path.mkdir(parents=True, exist_ok=True)
        return self


# DuckDB's memory limit by part of a run: (environment variable, default). Past it DuckDB spills to
# disk rather than hold a national history's pages in memory (its own default is 80% of the machine).
# The ingest's parsing workers and Great Expectations process run beside its connection, and a
# national history peaks there (about 1.8 GiB for the process tree); dbt runs after they ended, and
# at 512MB the month's SQL spilled and took a third longer (lib/dbt.py passes it to profiles.yml).
MEMORY_LIMITS = {"ingest": ("NTM_DUCKDB_MEMORY_LIMIT", "512MB"), "dbt": ("NTM_DBT_MEMORY_LIMIT", "1GB")}


def duckdb_memory_limit(part: str = "ingest") -> str:
    """DuckDB's memory limit for the `part` ("ingest" or "dbt") of a run (`MEMORY_LIMITS`)."""
    variable, default = MEMORY_LIMITS[part]
    return os.environ.get(variable) or default


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"${name}: not a number: {raw!r}") from None


@dataclass(frozen=True)
class Limits:
    """What one received file may cost to read (docs/ingestion.md, "Limits"). A file over a limit is
    quarantined naming it; the worker memory limit catches what the other checks cannot foresee.

    Defaults are a hundred times what a real submission needs (a commune workbook is ~20 KB and
    ~500 cells; a district bundle ~200 KB), and each can be set by the environment variable named
    in `ENV` or by the Dagster `settings` resource."""

    max_file_mb: float = 200.0  # bytes of the received file
    max_zip_members: int = 1000  # entries in a zip, xlsx or ods
    max_expanded_mb: float = 512.0  # declared uncompressed bytes of all members together
    max_compression_ratio: float = 100.0  # expanded / compressed, checked once expanded passes ratio_floor_mb
    ratio_floor_mb: float = 16.0
    max_cells_per_sheet: int = 1_000_000  # declared sheet dimension (rows × columns), or a CSV's cells
    worker_memory_mb: float = 2048.0  # address space of one parsing worker (RLIMIT_AS)
    file_timeout_s: float = 300.0  # wall time one file may take in a worker
    # Not a limit on one file: bytes of received files ingested as one chunk (one transaction, one
    # run of the expectation suites), which bounds the memory of a batch of any size (store.py).
    chunk_mb: float = 16.0

    ENV = {
        "max_file_mb": "NTM_MAX_FILE_MB", "max_zip_members": "NTM_MAX_ZIP_MEMBERS",
        "max_expanded_mb": "NTM_MAX_EXPANDED_MB", "max_compression_ratio": "NTM_MAX_COMPRESSION_RATIO",
        "ratio_floor_mb": "NTM_RATIO_FLOOR_MB", "max_cells_per_sheet": "NTM_MAX_CELLS_PER_SHEET",
        "worker_memory_mb": "NTM_WORKER_MEMORY_MB", "file_timeout_s": "NTM_FILE_TIMEOUT_S",
        "chunk_mb": "NTM_INGEST_CHUNK_MB",
    }

    @classmethod
    def from_env(cls, **overrides) -> "Limits":
        """Defaults, then the environment, then `overrides` that are not None (the Dagster resource)."""
        values = {}
        for name, variable in cls.ENV.items():
            default = getattr(cls, name)
            value = overrides.get(name)
            if value is None:
                value = _env_number(variable, default)
            values[name] = type(default)(value)
        return cls(**values)

    @staticmethod
    def mib(value: float) -> int:
        return int(value * 1024 * 1024)
