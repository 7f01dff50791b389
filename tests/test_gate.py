"""Write-audit-publish: an error issue withholds publication until it is corrected or waived."""

import json

import duckdb

from pipelines.cli import main
from pipelines.samples import claims_bytes
from tests.conftest import copy_sample, query


def _wrong_claim(home):
    (home.landing / "sai_so.csv").write_bytes(claims_bytes([dict(
        cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06",
        chi_so="so_xa_dat_chuan", gia_tri=103, nguon="typed by hand")]))


def test_a_claim_that_does_not_add_up_withholds_publication_until_waived(home, run):
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    _wrong_claim(home)
    assert run(home) == 2
    assert not home.published_db.exists()
    report = json.loads((home.reports / "latest.json").read_text())
    assert report["publication"] == "withheld"
    [blocking] = report["blocking"]
    assert blocking["ma_kiem_tra"] == "CLAIM_MISMATCH"
    assert "103" in blocking["mo_ta"] and "87" in blocking["mo_ta"]
    page = (home.reports / "latest.html").read_text()
    assert "CLAIM_MISMATCH" in page
    # the claims table: claimed against computed, the difference, and where the claim came from
    [claim] = [c for c in report["claims"] if not c["khop"]]
    assert (claim["gia_tri_bao_cao"], claim["gia_tri_tinh_toan"], claim["chenh_lech"]) == (103, 87, -16)
    assert (claim["file_name"], claim["source_row"]) == ("sai_so.csv", 2)
    claims_table = page[page.index("3. Chỉ số báo cáo"):page.index("4. Vấn đề mở")]
    assert all(f">{n}<" in claims_table for n in ("103", "87", "-16", "sai_so.csv"))
    (reported, computed) = query(home.warehouse, """select gia_tri_bao_cao, gia_tri_tinh_toan from quality_issues
                                                    where ma_kiem_tra = 'CLAIM_MISMATCH'""")[0]
    assert (reported, computed) == (103, 87)

    assert main(["--home", str(home.home), "waive", blocking["issue_id"], "--reason", "báo cáo cũ, đã đính chính",
                 "--by", "vpdp"]) == 0
    assert run(home) == 0
    assert home.published_db.exists()
    status = query(home.published_db, "select trang_thai, waived_by, waiver_reason from quality_issues "
                                      "where ma_kiem_tra = 'CLAIM_MISMATCH'")
    assert status == [("waived", "vpdp", "báo cáo cũ, đã đính chính")]


def test_an_issue_resolves_when_a_corrected_claim_arrives(home, run):
    copy_sample(home, "thai_nguyen_2020_h1.zip")
    _wrong_claim(home)
    assert run(home) == 2
    # the province restates the figure in a later file: it supersedes the earlier claim
    (home.landing / "dinh_chinh.csv").write_bytes(claims_bytes([dict(
        cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06",
        chi_so="so_xa_dat_chuan", gia_tri=87, nguon="đính chính")]))
    assert run(home) == 0
    assert query(home.warehouse, "select trang_thai, resolved_at is not null from quality_issues "
                                 "where ma_kiem_tra = 'CLAIM_MISMATCH'") == [("resolved", True)]
    assert query(home.warehouse, "select count(*) from raw.claims")[0][0] == 2  # both kept on record


def test_waiving_an_unknown_issue_fails_clearly(home, capsys):
    duckdb.connect(str(home.warehouse)).close()  # a warehouse that has never seen that issue
    assert main(["--home", str(home.home), "waive", "nope", "--reason", "x"]) == 1
    assert "no issue 'nope'" in capsys.readouterr().err
    assert main(["--home", str(home.home), "waive", "nope", "--reason", " "]) == 1  # a reason is required


def test_an_expectation_that_raises_rejects_the_files_it_did_not_check(home):
    """A suite whose expectation cannot run (here: a column no table has) judges nothing: the batch's
    files holding rows of that table are quarantined with an error naming it, never loaded unchecked."""
    from pipelines.ingest.store import ingest_landing
    from pipelines.quality.expectations import load_suites, validate_batch

    suites = load_suites()
    suites["tieu_chi"] = {**suites["tieu_chi"], "expectations": [*suites["tieu_chi"]["expectations"], {
        "type": "expect_column_values_to_not_be_null", "kwargs": {"column": "cot_khong_co"}}]}
    copy_sample(home, "thai_nguyen_2020_h1.zip", "chi_so_bao_cao.csv")
    with duckdb.connect(str(home.warehouse)) as conn:
        result = ingest_landing(home, conn, validate_batch=lambda files, tables: validate_batch(files, tables, suites))
        problems = conn.execute("select file_name, rule, severity, message from raw.ingest_problems "
                                "where rule = 'ge_error'").fetchall()
    assert result.rejected == ["thai_nguyen_2020_h1.zip"] and result.accepted == ["chi_so_bao_cao.csv"]
    [(name, _, severity, message)] = problems
    assert (name, severity) == ("thai_nguyen_2020_h1.zip", "error")
    assert "expect_column_values_to_not_be_null(cot_khong_co)" in message
    [reasons] = home.quarantine.glob("*.reasons.json")
    assert "ge_error" in reasons.read_text("utf-8")


def test_a_waiver_binds_to_the_values_it_waived_and_may_expire(home, run):
    import datetime as dt

    from pipelines.quality.issues import load_policy, refresh_issues
    from pipelines.settings import DEFAULT_POLICY_FILE

    copy_sample(home, "thai_nguyen_2020_h1.zip")
    _wrong_claim(home)  # 103 claimed, 87 computed
    assert run(home) == 2
    [(issue_id,)] = query(home.warehouse, "select issue_id from quality_issues where ma_kiem_tra = 'CLAIM_MISMATCH'")
    until = dt.date.today() + dt.timedelta(days=30)
    assert main(["--home", str(home.home), "waive", issue_id, "--reason", "chờ đính chính", "--until",
                 until.isoformat()]) == 0
    assert main(["--home", str(home.home), "waive", issue_id, "--reason", "x", "--until", "2001-01-01"]) == 1

    # The waiver holds through its last day and not after it.
    policy = load_policy(DEFAULT_POLICY_FILE)
    status = "select trang_thai, waiver_until, waiver_lapsed from quality_issues where issue_id = ?"
    with duckdb.connect(str(home.warehouse)) as conn:
        assert refresh_issues(conn, policy, now=dt.datetime.combine(until, dt.time(23)))["open_errors"] == 0
        assert conn.execute(status, [issue_id]).fetchone() == ("waived", until, None)
        assert refresh_issues(conn, policy, now=dt.datetime.combine(until + dt.timedelta(days=1), dt.time(1))
                              )["open_errors"] == 1
        state, _, lapsed = conn.execute(status, [issue_id]).fetchone()
        assert state == "open" and "expired" in lapsed

    # A restated claim with another wrong value: same issue, other values; the waiver does not cover it.
    (home.landing / "sai_lan_2.csv").write_bytes(claims_bytes([dict(
        cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06",
        chi_so="so_xa_dat_chuan", gia_tri=104, nguon="typed again")]))
    assert run(home) == 2
    state, _, lapsed = query(home.warehouse, status, [issue_id])[0]
    assert state == "open" and "values changed" in lapsed and "103" in lapsed
    assert not home.published_db.exists()


def test_a_window_run_cannot_clear_a_failure_it_did_not_retest(home, run):
    """A monthly dbt test fails on planted data in 2020-06 (full build); a run of the 2020-03 window
    re-tests 2020-03 only, passes there, and must leave the 2020-06 failure blocking."""
    from pipelines.ingest.store import ingest_landing

    copy_sample(home, "thai_nguyen_2020_h1.zip")
    with duckdb.connect(str(home.warehouse)) as conn:
        ingest_landing(home, conn)
        # Planted: one criterion row numbered outside its set (passes staging, fails the monthly
        # facts' test against dim_criterion), the met count unchanged.
        conn.execute("update raw.tieu_chi set tieu_chi = '25' where rowid = (select min(rowid) from raw.tieu_chi)")
    assert run(home) == 2
    blocking = query(home.warehouse, "select ma_kiem_tra, ma_don_vi, ky from quality_issues "
                                     "where trang_thai = 'open' and muc_do = 'error'")
    assert blocking and all(code == "DBT_TEST_FAILED" and "fct_commune_criteria" in test and ky == ""
                            for code, test, ky in blocking), blocking

    assert run(home, months=("2020-03", "2020-03")) == 2
    assert not home.published_db.exists()
    still = query(home.warehouse, "select ma_kiem_tra, ma_don_vi, ky from quality_issues "
                                  "where trang_thai = 'open' and muc_do = 'error'")
    assert sorted(still) == sorted(blocking)
    windows = query(home.warehouse, "select distinct min_month, max_month from audit.dbt_test_results "
                                    "where unique_id like 'test.%fct_commune_criteria%'")
    assert sorted(windows) == [("", ""), ("2020-03", "2020-03")]  # the window's results beside the full build's


def test_test_results_are_kept_per_window(tmp_path):
    """The bookkeeping under the window test above, on a real DuckDB file: a window's results replace
    only that window's; a build of every month replaces all of a test's results."""
    from pipelines.quality.issues import load_policy, record_test_results, refresh_issues
    from pipelines.settings import DEFAULT_POLICY_FILE

    policy = load_policy(DEFAULT_POLICY_FILE)
    test = "test.ntm.exists_in_fct_x"
    blocking = "select ky from quality_issues where trang_thai = 'open' and muc_do = 'error'"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        record_test_results(conn, [(test, "fail", 1, "Got 1 result")])  # full build: fails (2020-06)
        record_test_results(conn, [(test, "pass", 0, None)], {"min_month": "2020-03", "max_month": "2020-03"})
        refresh_issues(conn, policy)
        assert conn.execute(blocking).fetchall() == [("",)]  # the full build's failure stands
        record_test_results(conn, [(test, "fail", 2, "Got 2 results")], {"min_month": "2020-05", "max_month": "2020-05"})
        record_test_results(conn, [(test, "pass", 0, None)], {"min_month": "2020-01", "max_month": "2020-12"})
        refresh_issues(conn, policy)
        assert conn.execute(blocking).fetchall() == [("",)]  # the year's pass cleared its month, not the full build
        record_test_results(conn, [(test, "pass", 0, None)])  # a full build passes: every window is re-tested
        refresh_issues(conn, policy)
        assert conn.execute(blocking).fetchall() == []
        assert conn.execute("select count(*) from audit.dbt_test_results").fetchone() == (1,)
