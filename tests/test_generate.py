"""`ntm generate` across the 1 July 2025 reform: its files, and its claims through the real pipeline.

Two provinces of the 2025 list, 2024-01 to 2026-06: Thái Nguyên (19), which absorbed Bắc Kạn (06)
on 1 July 2025, and Hà Tĩnh (42). One pipeline run for the module's history, then a run with late
corrections (only the months they touch) and a full rebuild of its copy to compare with.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from pipelines import rules
from pipelines.generate import CLAIMS_FILE, generate_history
from pipelines.reference.admin_units import admin_units, crosswalk
from pipelines.settings import HomePaths
from tests.conftest import query

ARGS = dict(communes=40, months=30, first_month="2024-01", provinces=["19", "42"], claims=True,
            missing_rate=0.05, silent=2)


def _csv(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def _bundle(path, name: str) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    home = HomePaths(tmp_path_factory.mktemp("generated") / "home").ensure()
    counts = generate_history(home.home, **ARGS)
    return home, counts


def test_units_of_each_era_with_the_merged_province(generated):
    home, counts = generated
    roster = _csv(home.roster_file)
    legacy = [r for r in roster if r["den_thang"] == "2025-06"]
    current = [r for r in roster if r["tu_thang"] == rules.reform_month()]
    assert len(legacy) == counts["communes"] and len(current) == counts["communes_2025"]
    assert len(legacy) + len(current) == len(roster)
    assert all(r["ma_huyen"] and not r["tu_thang"] for r in legacy)
    assert all(not r["ma_huyen"] and not r["den_thang"] for r in current)

    units = admin_units()
    names = {(u.era, u.ma_xa): u.ten_xa for u in units.itertuples()}
    assert all((rules.LEGACY, r["ma_xa"]) in names for r in legacy)
    assert all((rules.REFORM_2025, r["ma_xa"]) in names for r in current)
    assert {r["ma_tinh"] for r in current} == {"19", "42"}
    # codes reused by a different commune: the same ma_xa names another unit after the reform
    reused = [r["ma_xa"] for r in current if r["ma_xa"] in {x["ma_xa"] for x in legacy}
              and names[(rules.LEGACY, r["ma_xa"])] != names[(rules.REFORM_2025, r["ma_xa"])]]
    assert reused
    # the merged province: 2025 province 19's legacy communes come from both Thái Nguyên and Bắc Kạn,
    # each mapped by the crosswalk's default link
    links = crosswalk()
    default = dict(zip(links[links.is_default].ma_xa_cu, links[links.is_default].ma_xa_moi))
    into_19 = {r["ma_tinh"] for r in legacy if default[r["ma_xa"]] in {c["ma_xa"] for c in current if c["ma_tinh"] == "19"}}
    assert into_19 == {"06", "19"}
    assert {default[r["ma_xa"]] for r in legacy} == {r["ma_xa"] for r in current}


def test_submissions_follow_the_era_and_criteria_set(generated):
    home, counts = generated
    files = sorted(p.name for p in home.landing.glob("bao_cao_*.zip"))  # bao_cao_<ma_tinh>_<YYYY_MM>.zip
    month = {f: f[-11:-4].replace("_", "-") for f in files}
    assert {f[8:10] for f in files if month[f] < "2025-07"} == {"06", "19", "42"}
    assert {f[8:10] for f in files if month[f] >= "2025-07"} == {"19", "42"}
    for name, ky, criteria_set, size in [("bao_cao_06_2025_06.zip", "2025-06", "2021-2025", 19),
                                            ("bao_cao_19_2025_12.zip", "2025-12", "2021-2025", 19),
                                            ("bao_cao_19_2026_03.zip", "2026-03", "2026-2030", 10)]:
        info = _bundle(home.landing / name, "thong_tin.csv")
        assert {r["bo_tieu_chi"] for r in info} == {criteria_set} and {r["ky_bao_cao"] for r in info} == {ky}
        criteria = _bundle(home.landing / name, "tieu_chi.csv")
        assert len(criteria) == size * len(info)
    titles = {r["danh_hieu"] for f in files if "_2026_" in f for r in _bundle(home.landing / f, "tong_hop.csv")}
    assert titles <= set(rules.title_ranks()) and {"NTM", "NTM hiện đại"} <= titles
    # the silent 2025 communes sent nothing from July to December 2025, and report again in 2026
    late_2025 = {r["ma_xa"] for f in files if "2025-07" <= month[f] <= "2025-12"
                 for r in _bundle(home.landing / f, "thong_tin.csv")}
    in_2026 = {r["ma_xa"] for f in files if month[f] >= "2026-01" for r in _bundle(home.landing / f, "thong_tin.csv")}
    assert len(counts["silent"]) == 2 and not set(counts["silent"]) & late_2025
    assert set(counts["silent"]) <= in_2026


def test_claims_cover_both_eras_and_a_planted_mismatch_is_one_off(generated, tmp_path):
    home, counts = generated
    claims = _csv(home.landing / CLAIMS_FILE)
    assert len(claims) == counts["claims"] and counts["planted"] == []
    ranges = {(c["cap"], c["ma_don_vi"], c["tu_thang"], c["den_thang"]) for c in claims}
    assert {("tinh", "19", "2025-01", "2025-12"), ("tinh", "42", "2026-01", "2026-06"),
            ("tinh", "06", "2024-01", "2024-12"), ("tinh", "06", "2025-01", "2025-06")} <= ranges
    assert not {r for r in ranges if r[0] == "huyen" and r[3] > "2025-06"}  # no districts after the reform
    assert not {r for r in ranges if r[1] == "06" and r[3] > "2025-06"}  # Bắc Kạn is part of 19 since July

    planted_home = tmp_path / "planted"
    planted = generate_history(planted_home, **ARGS, planted_mismatch=3)["planted"]
    changed = [(a, b) for a, b in zip(claims, _csv(planted_home / "landing" / CLAIMS_FILE)) if a != b]
    assert len(planted) == 3 and [b for _, b in changed] == planted
    for clean, wrong in changed:
        assert float(wrong["gia_tri"]) > float(clean["gia_tri"]) and wrong["gia_tri"].count(".") == clean["gia_tri"].count(".")


def test_every_generated_claim_reconciles_through_the_pipeline(generated, run):
    home, counts = generated
    code = run(home)
    assert query(home.warehouse, "select count(*), count_if(status = 'accepted') from raw.files") == \
        [(counts["files"] + 1,) * 2]
    rows = query(home.warehouse, "select count(*) from claim_reconciliation")[0][0]
    assert rows == counts["claims"]
    wrong = query(home.warehouse, """
        select cap, ma_don_vi, tu_thang, den_thang, chi_so, gia_tri_bao_cao, gia_tri_tinh_toan
        from claim_reconciliation where not coalesce(khop, false) order by all""")
    assert wrong == [], f"{len(wrong)} of {rows} generated claims do not reconcile: {wrong}"
    assert code == 0


# Tables of `main` whose rows a build makes; the others hold run facts (issues' first and last seen).
_BUILT = ("fct_commune_month", "fct_commune_criteria", "fct_commune_flows", "fct_commune_status",
          "mart_unit_month", "mart_province_month_2025", "claim_reconciliation",
          # incremental from a month on (models/intermediate/by_period)
          "intermediate.int_submission_versions", "intermediate.int_commune_reports",
          "intermediate.int_ocop_listings_current", "intermediate.int_ocop_listings_keyed")


def _table_rows(database, table: str) -> list[tuple]:
    return query(database, f"select * from {table} order by all")


def _corrected(bundle) -> bytes:
    """The bundle with criterion 1 of every submission flipped and `ngay_lap` a day later (so it wins)."""
    import datetime as dt

    out = io.BytesIO()
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            rows = list(csv.reader(io.StringIO(source.read(info).decode("utf-8"))))
            header = rows[0]
            for row in rows[1:]:
                if info.filename == "tieu_chi.csv" and row[header.index("tieu_chi")] == "1":
                    status = header.index("trang_thai")
                    row[status] = "Chưa đạt" if row[status] == "Đạt" else "Đạt"
                if info.filename == "thong_tin.csv":
                    day = header.index("ngay_lap")
                    row[day] = (dt.date.fromisoformat(row[day]) + dt.timedelta(days=1)).isoformat()
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            target.writestr(info.filename, text.getvalue())
    return out.getvalue()


def _relabelled(bundle, period: str, as_period: str) -> bytes:
    """The bundle with every row's ky_bao_cao `period` given as `as_period`."""
    out = io.BytesIO()
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info).decode("utf-8").replace(f",{period},", f",{as_period},"))
    return out.getvalue()


def test_a_late_month_rebuilds_from_its_month_and_equals_a_full_rebuild(generated, run, tmp_path, monkeypatch):
    """Issue 12: `ntm run` rebuilds only the months new or superseding files touch (and what reads
    them); the result equals `ntm run --full` table for table. Corrected bundles for 2025-05..07
    (across the reform, superseding the history's) and a new month 2026-07 arrive after the history."""
    import shutil

    from pipelines.lib.months import plan

    home, _ = generated
    if not home.warehouse.exists():
        assert run(home) == 0
    # Corrections of 2025-05..07 (criterion 1 flipped, prepared a day later) and a new month 2026-07.
    for name, stored in query(home.warehouse, "select file_name, stored_path from raw.files "
                                              "where regexp_matches(file_name, '_2025_0[567][.]zip$')"):
        (home.landing / f"sua_{name}").write_bytes(_corrected(home.home / stored))
    # ... and one province's September relabelled as its third quarter (after the reform): a coarser
    # report over months the history holds finer ones for (its flows must not count:
    # int_commune_reports.tinh_dong_chay), starting after the first month rebuilt.
    [(name, stored)] = query(home.warehouse, "select file_name, stored_path from raw.files "
                                             "where file_name like '%_2025_09.zip' order by file_name limit 1")
    (home.landing / f"quy_{name}").write_bytes(_relabelled(home.home / stored, "2025-09", "2025-Q3"))
    late = HomePaths(tmp_path / "late")
    generate_history(late.home, **{**ARGS, "first_month": "2025-05", "months": 15, "claims": False})
    for bundle in late.landing.glob("*_2026_07.zip"):
        shutil.copy2(bundle, home.landing / bundle.name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))  # a kept instance: read its record below
    (tmp_path / "dagster").mkdir()
    code = run(home)
    assert code in (0, 2)
    [(first, last, reason, since)] = query(home.warehouse, "select min_month, max_month, reason, from_month "
                                                           "from audit.monthly_builds order by built_at desc limit 1")
    assert (first, last, since) == ("2025-05", "2026-07", "2025-05") and "new period" in reason
    [(quarters, counted)] = query(home.warehouse, "select count(*), count_if(tinh_dong_chay) "
                                                  "from intermediate.int_commune_reports where ky_bao_cao = '2025-Q3'")
    assert quarters > 0 and counted == 0  # the months hold finer reports
    # Dagster's record of the run: the months it rebuilt, and the partition the run named.
    import dagster as dg

    from pipelines.lib.dbt import MONTHLY_PARTITIONS

    with dg.DagsterInstance.get() as instance:
        records = instance.fetch_materializations(dg.AssetKey("fct_commune_month"), limit=1000).records
    rebuilt = [f"{y}-{m:02d}-01" for y in (2025, 2026) for m in range(1, 13) if "2025-05" <= f"{y}-{m:02d}" <= "2026-07"]
    assert sorted(r.partition_key for r in records) == sorted({*rebuilt, MONTHLY_PARTITIONS.get_last_partition_key()})
    monkeypatch.delenv("DAGSTER_HOME")
    # The same warehouse rebuilt whole gives the same rows, table for table.
    full = HomePaths(tmp_path / "full")
    shutil.copytree(home.home, full.home)
    assert run(full, full=True) == code
    assert query(full.warehouse, "select min_month, reason from audit.monthly_builds order by built_at desc limit 1") \
        == [(None, "full build")]
    for table in _BUILT:
        assert _table_rows(home.warehouse, table) == _table_rows(full.warehouse, table), table
    # Nothing new: the plan is the last month alone.
    import duckdb

    from pipelines.lib.resources import NtmSettings

    with duckdb.connect(str(full.warehouse)) as conn:
        nothing = plan(conn, NtmSettings(home=str(full.home)).dbt_vars())
    assert nothing.window == {"min_month": "2026-07", "max_month": "2026-07"}
