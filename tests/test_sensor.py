"""The landing sensor moves past files only once a run took them in (archived or quarantined).

Real sensor evaluations against a real Dagster instance on a real home, and one real run.
"""

from __future__ import annotations

import json
import os
import uuid

import dagster as dg
import pytest

from pipelines.defs.sensors import RETRY_BACKOFF_SECONDS
from pipelines.definitions import PIPELINE_JOB, build_definitions
from pipelines.lib.dbt import changed_months_tags
from pipelines.lock import home_lock
from tests.conftest import copy_sample


@pytest.fixture
def tick(home):
    """Evaluate the sensor once on `home` with the instance; keeps the cursor between ticks."""
    sensor = build_definitions(home.home).resolve_sensor_def("landing_sensor")
    with dg.instance_for_test() as instance:
        state = {"cursor": None}

        def evaluate():
            with dg.build_sensor_context(instance=instance, cursor=state["cursor"]) as context:
                outcome = sensor(context)
                state["cursor"] = context.cursor
            return outcome

        evaluate.instance, evaluate.state = instance, state
        yield evaluate


def _skip(outcome, words: str) -> None:
    assert isinstance(outcome, dg.SkipReason), outcome
    assert words in outcome.skip_message, outcome.skip_message


def test_the_sensor_retries_until_a_run_takes_the_files_in(home, tick, run):
    _skip(tick(), "landing/ is empty")
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    claims = home.landing / "chi_so.csv"
    claims.write_text("cap,ma_don_vi,tu_thang,den_thang,chi_so,gia_tri\n", "utf-8")
    _skip(tick(), "new or still being written")  # first look
    with claims.open("a", encoding="utf-8") as handle:  # still being written between two looks
        handle.write("tinh,19,2020-01,2020-06,so_xa_dat_chuan,87\n")
    _skip(tick(), "new or still being written")

    first = tick()  # unchanged for a tick: launch, a full build
    assert isinstance(first, dg.RunRequest) and first.tags == {**first.tags, **changed_months_tags()}
    _skip(tick(), "retrying in")  # its run has not taken the files in: no second launch at once

    # A run of the job in progress (queued, starting, running): wait for it, whatever the pause.
    run_id = str(uuid.uuid4())
    tick.instance.add_run(dg.DagsterRun(job_name=PIPELINE_JOB, run_id=run_id, status=dg.DagsterRunStatus.STARTED))
    state = json.loads(tick.state["cursor"])
    state["launched"]["at"] -= RETRY_BACKOFF_SECONDS + 1
    tick.state["cursor"] = json.dumps(state)
    _skip(tick(), "is in progress")
    # It failed and left the files in landing/: once the pause has passed, they are launched again.
    tick.instance.report_run_failed(tick.instance.get_run_by_id(run_id))
    second = tick()
    assert isinstance(second, dg.RunRequest) and second.run_key != first.run_key
    assert json.loads(tick.state["cursor"])["launched"]["attempt"] == 2

    # `ntm run` (or another writer) holds the home: not now.
    state = json.loads(tick.state["cursor"])
    state["launched"]["at"] -= 10 * RETRY_BACKOFF_SECONDS
    tick.state["cursor"] = json.dumps(state)
    with home_lock(home.home, command="ntm run"):
        _skip(tick(), "in use by pid")

    # A run that takes them in (one loaded, one quarantined): nothing waits, nothing is launched.
    (home.landing / "khong_phai_bao_cao.txt").write_bytes(os.urandom(200))
    assert run(home) in (0, 2)
    assert not any(p.is_file() for p in home.landing.rglob("*"))
    assert list(home.quarantine.glob("*khong_phai_bao_cao*"))
    _skip(tick(), "landing/ is empty")
    assert json.loads(tick.state["cursor"]) == {}
