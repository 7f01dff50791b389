"""What launches the pipeline job by itself: the landing sensor and the monthly schedule.

The sensor's truth is `landing/` itself. A successful run (published or withheld) archives or
quarantines every file it read, so files still waiting mean their run has not happened, is under
way, or failed. The sensor therefore launches while files remain and no run is in progress, and
retries a set of files whose run failed after a growing pause; it never marks a set as done. A file
still being written (its size or mtime changed since the last look) waits for the next tick.
"""

from __future__ import annotations

import hashlib
import json
import time

import dagster as dg

from pipelines.ingest.receipts import record_receipts
from pipelines.ingest.landing import landing_files
from pipelines.lib.dbt import changed_months_tags
from pipelines.lib.resources import NtmSettings
from pipelines.lock import describe_holder, holder_alive

# Pause before launching the same waiting set again after its run: doubles per attempt, capped.
RETRY_BACKOFF_SECONDS = 300
RETRY_BACKOFF_MAX_SECONDS = 6 * 3600
_ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
           dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def landing_look(settings: NtmSettings) -> dict[str, list[int]]:
    """Every waiting file (path under landing/) with its size and mtime. Also journals each file's
    receipt the first time it is seen (ingest/receipts.py): a sensor tick is when the warehouse got it."""
    look = {}
    files = landing_files(settings.paths)
    record_receipts(settings.paths, files)
    for path in files:
        try:
            stat = path.stat()
        except FileNotFoundError:  # moved away by a run between the listing and now
            continue
        look[str(path.relative_to(settings.paths.landing))] = [stat.st_size, stat.st_mtime_ns]
    return look


def fingerprint(look: dict[str, list[int]]) -> str:
    return hashlib.sha256(json.dumps(look, sort_keys=True).encode()).hexdigest()[:20]


def backoff_seconds(attempt: int) -> int:
    return min(RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1), RETRY_BACKOFF_MAX_SECONDS)


def decide(look: dict, state: dict, now: float, busy: str | None) -> tuple[dg.RunRequest | dg.SkipReason, dict]:
    """One tick: what to do about the waiting files and the new sensor state.

    state: `look` (fingerprint of the files as last seen) and `launched` (fingerprint, time and
    attempt of the last launch for a waiting set)."""
    if not look:
        return dg.SkipReason("landing/ is empty"), {}
    current = fingerprint(look)
    if current != state.get("look"):  # new, growing or touched files: look again next tick
        return dg.SkipReason(f"{len(look)} file(s) in landing/ new or still being written; "
                             "launching once they stay unchanged for a tick"), {**state, "look": current}
    if busy:
        return dg.SkipReason(busy), state
    launched = state.get("launched") or {}
    attempt = 1
    if launched.get("fingerprint") == current:  # its run ended and left them all: it failed
        wait = backoff_seconds(launched["attempt"]) - (now - launched["at"])
        if wait > 0:
            return dg.SkipReason(f"the run for these {len(look)} file(s) ended without taking them in; "
                                 f"retrying in {int(wait)} s"), state
        attempt = launched["attempt"] + 1
    request = dg.RunRequest(run_key=f"landing-{current}-{attempt}", tags=changed_months_tags())
    return request, {**state, "launched": {"fingerprint": current, "at": now, "attempt": attempt}}


def _in_progress(context: dg.SensorEvaluationContext, job_name: str, settings: NtmSettings) -> str | None:
    runs = context.instance.get_runs(dg.RunsFilter(job_name=job_name, statuses=_ACTIVE), limit=1)
    if runs:
        return f"run {runs[0].run_id[:8]} of {job_name} is in progress"
    holder = holder_alive(settings.paths.home)  # `ntm run` or another instance's run on this home
    if holder:
        return f"the home is in use by {describe_holder(holder)}"
    return None


def build_landing_sensor(settings: NtmSettings, job) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
    def landing_sensor(context: dg.SensorEvaluationContext):
        """Launches the pipeline while files wait in landing/ and no run is in progress, once they
        have stopped changing; a set whose run failed is retried after a pause that grows."""
        try:
            state = json.loads(context.cursor) if context.cursor else {}
        except ValueError:  # a cursor of the sensor's earlier version (a bare fingerprint)
            state = {}
        look = landing_look(settings)
        busy = _in_progress(context, job.name, settings) if look and fingerprint(look) == state.get("look") else None
        outcome, state = decide(look, state, time.time(), busy)
        context.update_cursor(json.dumps(state, sort_keys=True))
        return outcome

    return landing_sensor


def build_monthly_schedule(settings: NtmSettings, job) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        # The day after the reporting deadline (settings.deadline_day), early morning in Vietnam.
        cron_schedule=f"0 5 {settings.deadline_day + 1} * *",
        execution_timezone="Asia/Ho_Chi_Minh",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def monthly_build(context: dg.ScheduleEvaluationContext):
        """The whole pipeline over every month, once the month's reports are due."""
        return dg.RunRequest(tags=changed_months_tags())

    return monthly_build
