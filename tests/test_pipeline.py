"""The whole pipeline on the tracked sample: ingest → dbt → audit → publish."""

import gc
import json

from tests.conftest import copy_sample, query


def test_demo_publishes_the_warehouse(demo_run):
    demo_home, output = demo_run
    published = demo_home.published_db
    assert published.exists()
    assert "published:" in output and "report:" in output
    rows = query(published, "select count(*) from mart_unit_month")[0][0]
    assert rows > 0
    for table in ("claim_reconciliation", "quality_issues", "mart_unit_month"):
        assert query(published, f"select count(*) from information_schema.tables where table_name = '{table}'")[0][0]
    manifest = json.loads((demo_home.published / "manifest.json").read_text())
    assert manifest["row_counts"]["mart_unit_month"] == rows
    assert (demo_home.published / "parquet" / "mart_unit_month.parquet").exists()


def test_thai_nguyen_half_year_numbers_come_from_commune_rows(demo_home):
    (so_xa, dat_chuan, ty_le, b15, b10, duoi_10, ocop, thon) = query(demo_home.published_db, """
        select so_xa, so_xa_dat_chuan, ty_le_xa_dat_chuan, so_xa_15_18_tc, so_xa_10_14_tc, so_xa_duoi_10_tc,
               so_san_pham_ocop, so_thon_kieu_mau
        from mart_unit_month where cap = 'tinh' and ma_don_vi = '19' and thang = '2020-06'""")[0]
    assert (so_xa, dat_chuan, b15, b10, duoi_10, ocop, thon) == (121, 87, 11, 23, 0, 25, 23)
    assert abs(ty_le - 100 * 87 / 121) < 1e-9  # exact, rounded only for display


def test_can_loc_seven_month_flows_reconcile(demo_home):
    rows = dict(query(demo_home.published_db, """
        select chi_so, gia_tri_tinh_toan from claim_reconciliation
        where cap = 'huyen' and ma_don_vi = '443' and tu_thang = '2017-01' and den_thang = '2017-07'"""))
    assert rows["so_mo_hinh_sxkd_moi"] == 23
    assert rows["so_xa_khong_co_mo_hinh_moi"] == 7
    assert rows["so_xa"] == 15


def test_hue_2026_is_reported_on_the_2025_units_and_the_2026_2030_set(demo_home):
    rows = dict(query(demo_home.published_db, """
        select chi_so, gia_tri_tinh_toan from claim_reconciliation
        where cap = 'tinh' and ma_don_vi = '46' and tu_thang = '2026-01' and den_thang = '2026-09' and khop"""))
    assert len(rows) == 15
    assert (rows["so_xa"], rows["so_xa_dat_chuan"], rows["so_xa_hien_dai"], rows["so_xa_dat_19_tc"]) == (19, 13, 3, 10)
    assert (rows["so_san_pham_ocop"], rows["so_mo_hinh_sxkd_moi"], rows["so_xa_khong_co_mo_hinh_moi"]) == (9, 15, 9)
    assert round(rows["binh_quan_tieu_chi"], 2) == 8.79 and round(rows["ty_le_xa_dat_chuan"], 1) == 68.4
    criteria = query(demo_home.published_db, """
        select distinct so_tieu_chi_bo, ma_huyen is null, era from fct_commune_month where ma_tinh = '46' and thang = '2026-09'""")
    assert criteria == [(10, True, "reform2025")]


def test_every_sample_claim_matches_and_nothing_blocks(demo_home):
    assert query(demo_home.published_db, "select count(*), count_if(khop) from claim_reconciliation")[0] == (27, 27)
    assert query(demo_home.published_db,
                 "select count(*) from quality_issues where muc_do = 'error' and trang_thai = 'open'")[0][0] == 0


def test_files_are_archived_by_content_hash_and_landing_is_empty(demo_home):
    assert list(demo_home.landing.iterdir()) == []
    archived = sorted(p.name for p in demo_home.archive.iterdir())
    assert len(archived) == 4 and all(len(name.split(".")[0]) == 64 for name in archived)


def test_rerun_with_the_same_files_changes_nothing(home, run):
    copy_sample(home)
    assert run(home) == 0
    assert gc.get_freeze_count() == 0  # the run's frozen heap (cli.py) is collectable again after it
    before = query(home.warehouse, "select count(*) from raw.tieu_chi")[0][0]
    import duckdb

    with duckdb.connect(str(home.warehouse)) as conn:  # a home whose reference predates the coordinates
        conn.execute("alter table ref.admin_units drop column vi_do")
    copy_sample(home)  # the same bytes delivered again
    assert run(home) == 0
    # the reference was loaded again, with the units' centres, and they reach the published dimension
    assert query(home.published_db, "select count(*) filter (where vi_do is not null) > 0.9 * count(*) "
                                    "from dim_admin_unit")[0][0]
    assert query(home.warehouse, "select count(*) from raw.tieu_chi")[0][0] == before
    assert query(home.warehouse, "select count(*) from raw.files")[0][0] == 4
    assert list(home.landing.iterdir()) == []
    # The project and reference are unchanged since the last build: that rerun left the seeds, the
    # staging views and the models of the reference as they were. One missing, and the next
    # changed-months run builds them all again.
    from pipelines.lib.dbt import unchanged_definitions

    with duckdb.connect(str(home.warehouse)) as conn:
        names = [node["name"] for node in unchanged_definitions(conn)]
        # seeds, staging views and what reads only seeds and the reference; nothing built from raw rows
        assert {"criteria", "stg_submissions", "stg_admin_units", "dim_admin_unit", "dim_criterion",
                "int_unit_successor", "audit_roster"} <= set(names)
        assert not set(names) & {"int_commune_reports", "dim_period", "dim_ocop_product", "fct_commune_month",
                                 "audit_reporting", "claim_reconciliation"}
        assert names.index("criteria") < names.index("dim_criterion")  # yielded after what they read
        assert names.index("stg_admin_units") < names.index("dim_admin_unit")
        conn.execute("drop view staging.stg_submissions")
        assert not unchanged_definitions(conn)
    copy_sample(home)
    assert run(home) == 0
    assert query(home.warehouse, "select count(*) from staging.stg_submissions")[0][0] > 0
