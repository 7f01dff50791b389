"""Publication is atomic for readers and never happens past a failed gate.

A real second process holds the published database open and keeps querying it, and opens it
afresh each time, while `ntm run` publishes again: it must never fail and must always find every
table holding the row count the database's own manifest states.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

from pipelines.samples import claims_bytes
from tests.conftest import copy_sample, query

READER = r"""
import json, pathlib, sys, time, duckdb

# mode "held": one connection opened once and kept; "fresh": a new connection every query. Two
# processes, because DuckDB shares one open database per path within a process.
mode, db, ready, stop, out = sys.argv[1:6]

def state(conn):
    # every table against the row count the same database's manifest states
    manifest = conn.execute("select table_name, row_count, run_id from publication_manifest").fetchall()
    wrong = [(t, n, conn.execute(f'select count(*) from "{t}"').fetchone()[0]) for t, n, _ in manifest]
    return manifest[0][2], [w for w in wrong if w[1] != w[2]]

result = {"runs": [], "errors": [], "inconsistent": [], "queries": 0}
held = duckdb.connect(db, read_only=True) if mode == "held" else None
pathlib.Path(ready).touch()
while not pathlib.Path(stop).exists():
    try:
        conn = held or duckdb.connect(db, read_only=True)
        run_id, wrong = state(conn)
        if conn is not held:
            conn.close()
        if run_id not in result["runs"]:
            result["runs"].append(run_id)
        if wrong:
            result["inconsistent"].append([run_id, wrong])
        result["queries"] += 1
    except Exception as error:  # what the test is about: there must be none
        result["errors"].append(repr(error))
    time.sleep(0.05)  # two cores are shared with the pipeline: a reader must not take one of them
pathlib.Path(out).write_text(json.dumps(result))
"""


def _claim(home, name: str, value: int) -> None:
    (home.landing / name).write_bytes(claims_bytes([dict(
        cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa_dat_chuan",
        gia_tri=value, nguon="test")]))


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_reader_never_sees_half_a_publication_and_never_blocks_it(home, run, tmp_path):
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    assert run(home) == 0
    first = json.loads((home.published / "manifest.json").read_text())

    stop = tmp_path / "stop"
    readers = {mode: subprocess.Popen([sys.executable, "-c", READER, mode, str(home.published_db),
                                       str(tmp_path / f"{mode}.ready"), str(stop), str(tmp_path / f"{mode}.json")])
               for mode in ("held", "fresh")}
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"{mode}.ready").exists() for mode in readers):
            assert all(r.poll() is None for r in readers.values()) and time.monotonic() < deadline, "no reader"
            time.sleep(0.05)
        _claim(home, "dung.csv", 87)  # one more claim: the next publication has more rows
        started = time.monotonic()
        assert run(home) == 0  # published while both readers were reading
        took = time.monotonic() - started
        time.sleep(1.0)  # let the readers query the new copy a few times
    finally:
        stop.touch()
        for reader in readers.values():
            reader.wait(timeout=60)
    seen = {mode: json.loads((tmp_path / f"{mode}.json").read_text()) for mode in readers}
    second = json.loads((home.published / "manifest.json").read_text())

    for mode in readers:
        assert seen[mode]["errors"] == [] and seen[mode]["inconsistent"] == [], mode
        assert seen[mode]["queries"] > 20, mode
    assert seen["held"]["runs"] == [first["run_id"]]  # the open connection kept its consistent state
    assert seen["fresh"]["runs"] == [first["run_id"], second["run_id"]]  # read before and after the swap
    assert second["row_counts"]["claim_reconciliation"] == first["row_counts"]["claim_reconciliation"] + 1
    assert took < 300
    assert query(home.published_db, "select count(*) from claim_reconciliation")[0][0] == \
        second["row_counts"]["claim_reconciliation"]
    assert (home.published / "parquet" / "claim_reconciliation.parquet").exists()
    assert not list(home.published.glob(".ntm-*"))  # nothing half-written left beside it

    # A failed gate: the published copy, its Parquet files and its manifest stay as they were.
    before = {p.name: _digest(p) for p in (home.published_db, home.published / "manifest.json")}
    parquet_before = (home.published / "parquet").resolve()
    _claim(home, "sai.csv", 103)
    assert run(home) == 2
    assert {p.name: _digest(p) for p in (home.published_db, home.published / "manifest.json")} == before
    assert (home.published / "parquet").resolve() == parquet_before
    report = json.loads((home.reports / "latest.json").read_text())
    assert report["publication"] == "withheld"
    assert [i["ma_kiem_tra"] for i in report["blocking"]] == ["CLAIM_MISMATCH"]
