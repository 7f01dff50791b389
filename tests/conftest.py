"""Shared fixtures: homes in temporary folders, the real pipeline, real files.

The demo run is made once per session through the installed `ntm` console script; tests that
only read its results share it. Tests that change data make their own home.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import run_pipeline
from pipelines.settings import SAMPLES_DIR, HomePaths

NTM = str(Path(sys.executable).with_name("ntm"))


def copy_sample(paths: HomePaths, *names: str) -> None:
    """Put tracked sample files (all when no name is given) into a home, with the sample roster."""
    paths.ensure()
    for source in sorted((SAMPLES_DIR / "landing").iterdir()):
        if not names or source.name in names:
            shutil.copy2(source, paths.landing / source.name)
    shutil.copy2(SAMPLES_DIR / "reference" / "roster.csv", paths.roster_file)


def query(database: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


@pytest.fixture
def home(tmp_path) -> HomePaths:
    return HomePaths(tmp_path / "home").ensure()


@pytest.fixture
def run():
    """Run the whole asset graph in-process on a home; returns the `ntm run` exit code."""
    return run_pipeline


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> tuple[HomePaths, str]:
    """`ntm demo --home <empty dir>` run once, as a new user would: the home and what it printed."""
    home = tmp_path_factory.mktemp("demo") / "home"
    completed = subprocess.run([NTM, "demo", "--home", str(home)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    # The run freezes its long-lived heap (cli.py `_long_lived_heap`) and thaws it before exit: an
    # object still frozen then, DuckDB's among them, is reported leaked at exit.
    assert "leaked" not in completed.stderr, completed.stderr[-3000:]
    return HomePaths(home), completed.stdout


@pytest.fixture(scope="session")
def demo_home(demo_run) -> HomePaths:
    return demo_run[0]
