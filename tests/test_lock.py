"""One writer per home (contract §4): a second writer changes nothing, names the holder, exits 3."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines.cli import main
from pipelines.lock import HOLDER_NAME, holder_alive, home_lock
from tests.conftest import NTM, copy_sample

# A real second process that takes the home's lock (or also opens the warehouse for writing, as a
# run does between its steps) and holds it until killed.
HOLDER = r"""
import pathlib, sys, time
from pipelines.lock import home_lock
home, ready, hold_warehouse = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
with home_lock(home, command="ntm run (test holder)"):
    if hold_warehouse:
        import duckdb
        conn = duckdb.connect(str(pathlib.Path(home) / "warehouse.duckdb"))
        conn.execute("create table quality_issues (x int)")
    pathlib.Path(ready).touch()
    time.sleep(600)
"""


@pytest.fixture
def holder(home, tmp_path):
    """Start a process holding `home`; yields it; kills it (SIGKILL: no clean release) at the end."""
    started = []

    def start(hold_warehouse: bool = False) -> subprocess.Popen:
        ready = tmp_path / f"ready{len(started)}"
        process = subprocess.Popen([sys.executable, "-c", HOLDER, str(home.home), str(ready),
                                    "1" if hold_warehouse else "0"])
        started.append(process)
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the holder did not start"
            time.sleep(0.05)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=30)


def test_two_runs_started_at_once_give_one_result_and_one_exit_3(home):
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    runs = [subprocess.Popen([NTM, "run", "--home", str(home.home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outcomes = [(r.returncode, out, err) for r in runs for out, err in [r.communicate(timeout=600)]]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 3], outcomes
    [(_, out, err)] = [o for o in outcomes if o[0] == 3]
    assert out == "" and len(err.strip().splitlines()) == 1, err
    winner = next(r for r, o in zip(runs, outcomes) if o[0] == 0)
    assert f"pid {winner.pid} (ntm run --home {home.home})" in err and " since 20" in err
    assert "nothing was changed" in err
    assert not list(home.landing.iterdir()) and home.published_db.exists()
    assert not (home.home / HOLDER_NAME).exists()  # released: the note went with the lock


def test_a_second_writer_changes_nothing_and_a_dead_holder_blocks_nobody(home, holder, capsys):
    process = holder()
    assert holder_alive(home.home)["pid"] == process.pid
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    assert main(["--home", str(home.home), "waive", "abc", "--reason", "x"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pid {process.pid} (ntm run (test holder)) since " in err
    assert main(["--home", str(home.home), "run"]) == 3
    assert main(["--home", str(home.home), "demo"]) == 3
    assert not home.warehouse.exists()  # nothing written
    assert [p.name for p in home.landing.iterdir()] == ["thai_nguyen_2020_h1.zip"]  # demo copied nothing

    process.kill()  # dies holding the lock: the kernel releases it; its note stays behind
    process.wait(timeout=30)
    assert (home.home / HOLDER_NAME).exists() and holder_alive(home.home) is None
    with home_lock(home.home, command="after"):
        with home_lock(home.home):  # reentrant within one process
            assert holder_alive(home.home)["command"] == "after"
    assert not (home.home / HOLDER_NAME).exists()


def test_a_run_launched_like_the_ui_does_cannot_write_a_held_home(home, holder):
    """The job itself takes the lock (its settings resource), whatever launched it."""
    from pipelines.definitions import PIPELINE_JOB, build_definitions
    from pipelines.lib.dbt import full_build_tags

    holder()
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    job = build_definitions(home.home).resolve_job_def(PIPELINE_JOB)
    result = job.execute_in_process(raise_on_error=False, tags=full_build_tags())
    assert not result.success
    failure = next(e for e in result.all_events if e.is_failure)
    assert "is in use by pid" in str(failure.event_specific_data)
    assert not home.warehouse.exists() and [p.name for p in home.landing.iterdir()] == ["thai_nguyen_2020_h1.zip"]


def test_report_never_waits_for_a_writer(home, holder):
    process = holder(hold_warehouse=True)
    started = time.monotonic()
    completed = subprocess.run([NTM, "report", "--home", str(home.home)], capture_output=True, text=True,
                               timeout=120, env={**os.environ})
    assert completed.returncode == 3, completed.stderr
    assert f"being written by pid {process.pid}" in completed.stderr
    assert time.monotonic() - started < 60
    process.send_signal(signal.SIGKILL)
