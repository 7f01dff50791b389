"""A publication copies what changed since the last one (publish/delta.py) and holds exactly what a
whole copy would: every table equal to the warehouse's, its Parquet file too, whatever changed.

On a real DuckDB warehouse written here (a monthly fact with `thang_ky`, a dimension without), not
through a pipeline run: the runs' publications are tested in test_publish.py and test_pipeline.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.publish import delta
from pipelines.publish.publisher import publish

MONTHS = [dt.date(2025, month, 1) for month in range(4, 10)]  # across the reform of 1 July 2025


def _warehouse(home) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(home.warehouse))
    conn.execute("create table if not exists fct (thang_ky date, ma_xa varchar, so_tieu_chi_dat integer)")
    conn.execute("create table if not exists dim (ma_xa varchar, ten_xa varchar)")
    return conn


def _seed(home) -> None:
    with _warehouse(home) as conn:
        conn.executemany("insert into fct values (?, ?, ?)",
                         [(month, f"{commune:05d}", (commune + i) % 11) for i, month in enumerate(MONTHS)
                          for commune in range(40)])
        conn.executemany("insert into dim values (?, ?)", [(f"{c:05d}", f"Xã {c}") for c in range(40)])


def _publish(home) -> dict:
    return publish(home, str(uuid.uuid4()), ["test"])


def _differences(home) -> list[str]:
    """Tables (and Parquet files) of the published copy that differ from the warehouse's, both ways."""
    wrong = []
    with duckdb.connect() as conn:
        conn.execute(f"attach '{home.warehouse}' as src (read_only)")
        conn.execute(f"attach '{home.published_db}' as pub (read_only)")
        tables = [t for (t,) in conn.execute("select table_name from duckdb_tables() where database_name = 'src'")
                  .fetchall()]
        published = {t for (t,) in conn.execute("select table_name from duckdb_tables() where database_name = 'pub' "
                                                "and table_name not like 'publication_%'").fetchall()}
        if published != set(tables):
            wrong.append(f"tables {sorted(published)} != {sorted(tables)}")
        for table in set(tables) & published:
            parquet = f"read_parquet('{home.published / 'parquet' / (table + '.parquet')}')"
            for label, other in (("copy", f"pub.main.{table}"), ("parquet", parquet)):
                for a, b in ((f"src.main.{table}", other), (other, f"src.main.{table}")):
                    if conn.execute(f"select count(*) from (from {a} except all from {b})").fetchone()[0]:
                        wrong.append(f"{label} of {table}")
    return wrong


def _inode(home, table: str) -> int:
    return (home.published / "parquet" / f"{table}.parquet").stat().st_ino


def test_a_publication_copies_the_months_that_changed_and_holds_what_a_whole_copy_holds(home):
    _seed(home)
    first = _publish(home)
    assert first["copied"]["base"] is None and set(first["copied"]["whole"]) == {"fct", "dim"}
    assert _differences(home) == []

    again = _publish(home)  # nothing changed: nothing copied, the Parquet files are the same files
    assert again["copied"] == {"base": first["run_id"], "whole": [], "months": {}}
    before = {table: _inode(home, table) for table in ("fct", "dim")}

    with _warehouse(home) as conn:  # a month re-sent before the reform, one after, one gone, one new
        conn.execute("update fct set so_tieu_chi_dat = 19 where thang_ky = '2025-05-01' and ma_xa = '00003'")
        conn.execute("update fct set so_tieu_chi_dat = so_tieu_chi_dat + 1 where thang_ky = '2025-08-01'")
        conn.execute("delete from fct where thang_ky = '2025-09-01'")
        conn.execute("insert into fct values ('2025-10-01', '00001', 10), (null, '00002', 3)")
    patched = _publish(home)
    assert patched["copied"] == {"base": again["run_id"], "whole": [],
                                 "months": {"fct": ["2025-05-01", "2025-08-01", "2025-09-01", "2025-10-01", None]}}
    assert _differences(home) == []
    assert _inode(home, "dim") == before["dim"] and _inode(home, "fct") != before["fct"]
    assert patched["row_counts"] == {"dim": 40, "fct": 40 * 5 + 2}

    with _warehouse(home) as conn:  # a new column, a renamed unit, a table gone, a table new
        conn.execute("alter table fct add column so_thon integer default 2")
        conn.execute("update dim set ten_xa = 'Phường 1' where ma_xa = '00001'")
        conn.execute("create table ocop as select 1 as so_sao")
    reshaped = _publish(home)
    assert set(reshaped["copied"]["whole"]) == {"fct", "dim", "ocop"}
    assert _differences(home) == []
    with _warehouse(home) as conn:
        conn.execute("drop table ocop")
    assert "ocop" not in _publish(home)["row_counts"]
    assert _differences(home) == []


def test_a_copy_that_grew_past_its_bound_or_predates_fingerprints_is_copied_whole(home, monkeypatch):
    _seed(home)
    _publish(home)
    with duckdb.connect(str(home.published_db)) as conn:  # a copy published before fingerprints were kept
        conn.execute(f"drop table {delta.FINGERPRINTS}")
    assert _publish(home)["copied"]["base"] is None
    assert _publish(home)["copied"]["base"] is not None
    monkeypatch.setattr(delta, "MAX_GROWTH", 0.5)  # any copy is now "too big"
    assert _publish(home)["copied"]["base"] is None
    assert _differences(home) == []
    manifest = json.loads((home.published / "manifest.json").read_text())
    assert manifest["whole_copy_bytes"] == home.published_db.stat().st_size


_ROW = st.tuples(st.sampled_from(MONTHS + [None]), st.sampled_from(["00001", "00002", "00003"]),
                 st.one_of(st.none(), st.integers(0, 19)))


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(rounds=st.lists(st.tuples(st.lists(_ROW, max_size=6), st.lists(st.sampled_from(MONTHS), max_size=2)),
                       min_size=1, max_size=3))
def test_any_sequence_of_changes_publishes_what_the_warehouse_holds(tmp_path_factory, rounds):
    from pipelines.settings import HomePaths

    home = HomePaths(tmp_path_factory.mktemp("delta") / "home").ensure()
    _seed(home)
    _publish(home)
    for added, removed in rounds:  # rows added (duplicates and null months too), months removed
        with _warehouse(home) as conn:
            if added:
                conn.executemany("insert into fct values (?, ?, ?)", added)
            for month in removed:
                conn.execute("delete from fct where thang_ky = ?", [month])
        _publish(home)
        assert _differences(home) == []


@pytest.mark.parametrize("value", [None, 0])
def test_a_changed_null_and_a_zero_are_told_apart(home, value):
    """The row hash sees a null become a zero (a sum of the column would not)."""
    _seed(home)
    with _warehouse(home) as conn:
        conn.execute("update fct set so_tieu_chi_dat = ? where ma_xa = '00001'", [value])
    _publish(home)
    with _warehouse(home) as conn:
        conn.execute("update fct set so_tieu_chi_dat = ? where ma_xa = '00001'", [0 if value is None else None])
    assert set(_publish(home)["copied"]["months"]["fct"]) == {m.isoformat() for m in MONTHS}
    assert _differences(home) == []


def test_a_copy_that_does_not_hold_what_its_fingerprints_say_is_not_published(home):
    """The fingerprints say what the copy holds; a copy changed behind them (rows deleted by hand)
    would be patched wrongly, and its row counts give it away before it is published."""
    from pipelines.publish.publisher import PublishFailed

    _seed(home)
    _publish(home)
    home.published_db.chmod(0o644)
    with duckdb.connect(str(home.published_db)) as conn:
        conn.execute("delete from fct where thang_ky = '2025-07-01' and ma_xa = '00001'")
    home.published_db.chmod(0o444)
    before = home.published_db.read_bytes()
    with pytest.raises(PublishFailed, match="fct: the copy holds 239 rows, the warehouse 240"):
        _publish(home)
    assert home.published_db.read_bytes() == before  # the published copy stays as it was
    assert not list(home.published.glob(".ntm-*"))


def test_a_parquet_file_that_cannot_be_written_stops_the_publication_and_leaves_nothing(home):
    """A failure part-way through the Parquet files leaves the publication as it was: no new copy,
    no new Parquet folder."""
    _seed(home)
    _publish(home)
    before = home.published_db.read_bytes()
    versions = sorted(p.name for p in home.published.glob("parquet-*"))
    with _warehouse(home) as conn:  # a table whose file name has a folder that does not exist
        conn.execute('create table "no_such_folder/fct_copy" as select * from fct')
        conn.execute("update fct set so_tieu_chi_dat = 0")
    with pytest.raises(duckdb.Error, match="no_such_folder"):
        _publish(home)
    assert home.published_db.read_bytes() == before
    assert sorted(p.name for p in home.published.glob("parquet-*")) == versions
    assert not list(home.published.glob(".ntm-*"))
