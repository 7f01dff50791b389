"""Issue 12: a batch of any size is ingested in chunks, each its own transaction, with the same
result as one batch; a crash between chunks leaves the loaded chunks loaded and the rest waiting."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.ingest.store import RAW_TABLES, ingest_landing
from pipelines.quality.expectations import SuitesProcess
from pipelines.samples import workbook_bytes
from pipelines.settings import HomePaths, Limits
from tests.conftest import copy_sample
from tests.test_ingest_bad_inputs import a_submission

# Columns that differ between two ingests of the same files by nature: when, and (for the receipt)
# the clock of the copy.
_WHEN = {"ingested_at", "found_at", "arrived_at", "file_mtime"}


def _landing(home: HomePaths) -> None:
    copy_sample(home)
    (home.landing / "xa_tan_cuong.xlsx").write_bytes(workbook_bytes(a_submission()))
    (home.landing / "ban_sao.xlsx").write_bytes(workbook_bytes(a_submission()))  # the same bytes twice
    (home.landing / "hong.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (home.landing / "sai.xlsx").write_bytes(workbook_bytes(a_submission(ma_xa="99999")))


def _raw(home: HomePaths) -> dict[str, list]:
    with duckdb.connect(str(home.warehouse), read_only=True) as conn:
        result = {}
        for table, columns in RAW_TABLES.items():
            kept = ", ".join(f'"{c}"' for c in columns if c not in _WHEN)
            result[table] = conn.execute(f"select {kept} from raw.{table} order by all").fetchall()
    return result


def test_chunks_give_what_one_batch_gives(tmp_path):
    one, many = HomePaths(tmp_path / "one").ensure(), HomePaths(tmp_path / "many").ensure()
    calls = {}
    for home, chunk_mb in ((one, 1024.0), (many, 0.0001)):  # one chunk; a chunk per file
        _landing(home)
        with SuitesProcess() as suites, duckdb.connect(str(home.warehouse)) as conn:
            def counted(files, tables, home=home):
                calls[home] = calls.get(home, 0) + 1
                return suites(files, tables)
            result = ingest_landing(home, conn, validate_batch=counted, limits=Limits(chunk_mb=chunk_mb))
        assert sorted(result.rejected) == ["hong.xlsx", "sai.xlsx"] and len(result.duplicates) == 1
        assert not any(home.landing.iterdir())
    assert calls[one] == 1 and calls[many] >= 6  # the suites ran once per chunk
    assert _raw(one) == _raw(many)
    assert sorted(p.name for p in one.archive.iterdir()) == sorted(p.name for p in many.archive.iterdir())


def test_a_crash_between_chunks_keeps_what_was_loaded_and_the_rerun_finishes(tmp_path):
    home, whole = HomePaths(tmp_path / "home").ensure(), HomePaths(tmp_path / "whole").ensure()
    _landing(home)
    _landing(whole)
    waiting = len(list(home.landing.iterdir()))

    def crash_on_third(files, tables, seen=[]):
        seen.append(1)
        if len(seen) == 3:
            raise RuntimeError("the machine went down")

    with duckdb.connect(str(home.warehouse)) as conn, pytest.raises(RuntimeError):
        ingest_landing(home, conn, validate_batch=crash_on_third, limits=Limits(chunk_mb=0.0001))
    with duckdb.connect(str(home.warehouse), read_only=True) as conn:
        loaded = conn.execute("select count(*) from raw.files").fetchone()[0]
    left = len(list(home.landing.iterdir()))
    assert 0 < loaded and left == waiting - loaded  # two chunks in, their files stored; the rest untouched
    with duckdb.connect(str(home.warehouse)) as conn:
        ingest_landing(home, conn, limits=Limits(chunk_mb=0.0001))
    with duckdb.connect(str(whole.warehouse)) as conn:
        ingest_landing(whole, conn)
    assert not any(home.landing.iterdir())
    assert _raw(home) == _raw(whole)
