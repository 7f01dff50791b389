"""The one settings object, as the Dagster resource `settings` every asset receives.

dbt receives what it needs from it as `--vars` (`dbt_vars`).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pipelines import rules
from pipelines.settings import DEFAULT_POLICY_FILE, HomePaths, Limits, default_home


class NtmSettings(dg.ConfigurableResource):
    """Settings shared by every asset. `home` empty means `$NTM_HOME`, else `./data`.

    Every asset that writes the home receives this resource, so a run of the pipeline job holds
    the home's writer lock (`pipelines.lock`) from the resource's setup to its teardown, whoever
    launched it (`ntm run`, the UI, the sensor, the schedule). A run that finds the home held fails
    before any step writes; under `ntm run`, which holds the lock already, taking it again is free."""

    home: str = ""
    # Criteria-met band edges, lower bounds of the bands below "all criteria" (domain.md).
    band_edges: list[int] = list(rules.band_edges())
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
    chunk_mb: float | None = None  # bytes of received files per ingest chunk (NTM_INGEST_CHUNK_MB)

    def limits(self) -> Limits:
        return Limits.from_env(**{name: getattr(self, name) for name in Limits.ENV if hasattr(self, name)})

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        from pipelines.lock import acquire

        run_id = context.run.run_id if context.run else "?"
        acquire(self.paths.home, command=f"dagster run {run_id[:8]}")
        self._check_warehouse()

    def _check_warehouse(self) -> None:
        """With the home held, nothing else can be writing the warehouse: a file that does not open
        is damaged, and the run says so at once (dagster-duckdb's connection would retry for minutes)."""
        import duckdb

        if not self.paths.warehouse.exists():
            return
        try:
            duckdb.connect(str(self.paths.warehouse)).close()
        except duckdb.Error as error:
            from pipelines.lock import release

            release(self.paths.home)
            raise dg.Failure(f"the working warehouse {self.paths.warehouse} cannot be opened: {error}") from None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        from pipelines.lock import release

        release(self.paths.home)

    @property
    def paths(self) -> HomePaths:
        return HomePaths(Path(self.home).resolve() if self.home else default_home())

    def dbt_vars(self) -> dict:
        # deadline_day: timeliness of reporting (dbt_project/models/audit/audit_reporting_completeness.sql)
        return {"band_edges": list(self.band_edges), "deadline_day": self.deadline_day}


@dataclass(frozen=True)
class AlertSettings:
    """Where the alert sensor (pipelines/defs/alerts.py) reports failed runs and withheld
    publications. Read from the environment when the sensor runs, so the daemon's environment rules:

    - NTM_ALERT_HOOKS: comma-separated `log`, `email`, `webhook` (default `log`; the log always gets it).
    - NTM_ALERT_WEBHOOK_URL: the URL that receives a JSON POST.
    - NTM_ALERT_SMTP_HOST, NTM_ALERT_SMTP_PORT (default localhost, 25), NTM_ALERT_EMAIL_FROM,
      NTM_ALERT_EMAIL_TO (comma-separated): plain SMTP to a relay, no login.
    - NTM_ALERT_REPORT_BASE_URL: where reports/ is served; links are file:// paths without it.
    - NTM_ALERT_TIMEOUT: seconds for one delivery (default 10).
    """

    hooks: tuple[str, ...] = ("log",)
    webhook_url: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    email_from: str = ""
    email_to: tuple[str, ...] = ()
    report_base_url: str = ""
    timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "AlertSettings":
        env = os.environ if environ is None else environ

        def items(name: str, default: str = "") -> tuple[str, ...]:
            return tuple(part.strip() for part in env.get(name, default).split(",") if part.strip())

        return cls(hooks=items("NTM_ALERT_HOOKS", "log"), webhook_url=env.get("NTM_ALERT_WEBHOOK_URL", ""),
                   smtp_host=env.get("NTM_ALERT_SMTP_HOST", "localhost"),
                   smtp_port=int(env.get("NTM_ALERT_SMTP_PORT", "25")),
                   email_from=env.get("NTM_ALERT_EMAIL_FROM", ""), email_to=items("NTM_ALERT_EMAIL_TO"),
                   report_base_url=env.get("NTM_ALERT_REPORT_BASE_URL", ""),
                   timeout=float(env.get("NTM_ALERT_TIMEOUT", "10")))
