"""Great Expectations suites run once per ingested batch; unexpected rows become problems on their files."""

import json

import duckdb

from pipelines.ingest.store import RAW_TABLES, ingest_landing
from pipelines.quality.expectations import SUITE_TABLES, SuitesProcess, load_suites, validate_batch
from pipelines.samples import claims_bytes, workbook_bytes
from tests.conftest import query
from tests.test_ingest_bad_inputs import a_submission


def test_every_raw_data_table_has_a_stored_suite_on_its_own_columns():
    suites = load_suites()
    assert set(suites) == set(SUITE_TABLES)
    for table, suite in suites.items():
        assert suite["name"] == f"raw_{table}" and suite["expectations"]
        for expectation in suite["expectations"]:
            kwargs = expectation["kwargs"]
            for column in [kwargs.get("column")] + kwargs.get("column_list", []):
                assert column is None or column in RAW_TABLES[table], (table, column)


def test_one_batch_one_run_per_suite_problems_land_on_their_files(home):
    old_product = {**a_submission().ocop[0], "ngay_quyet_dinh": "2015-11-20"}  # before OCOP existed: suspicious
    files = {
        "tot.xlsx": workbook_bytes(a_submission()),
        "ocop_cu.xlsx": workbook_bytes(a_submission(ky="2020-07", ocop=[old_product])),
        "chi_so.csv": claims_bytes([  # the reader wants a 2-3 digit code, as the suite does: validate says so too
            dict(cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa", gia_tri=121),
            dict(cap="tinh", ma_don_vi="TN", tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa", gia_tri=121)]),
        "chi_so_dung.csv": claims_bytes([
            dict(cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06", chi_so="so_xa", gia_tri=121)]),
    }
    for name, data in files.items():
        (home.landing / name).write_bytes(data)
    runs = []

    with SuitesProcess() as suites:  # the suites in their own process, as the ingest asset runs them
        def hook(parsed_files, tables):
            runs.append(sorted(p.name for p in parsed_files))
            runs.append(suites(parsed_files, tables))

        with duckdb.connect(str(home.warehouse)) as conn:
            result = ingest_landing(home, conn, validate_batch=hook)

    # called once, with the whole batch of readable files (the reader already refused chi_so.csv)
    assert runs[0] == ["chi_so_dung.csv", "ocop_cu.xlsx", "tot.xlsx"]
    summary = {r.table: r for r in runs[1]}
    assert set(summary) == {"submissions", "tieu_chi", "ocop", "tong_hop", "claims"}
    assert summary["tieu_chi"].rows == 38 and summary["tieu_chi"].success
    assert (summary["ocop"].success, summary["ocop"].unexpected) == (False, 1)
    assert (summary["claims"].success, summary["claims"].rows) == (True, 1)
    assert all(not r.errors and r.evaluated == len(load_suites()[r.table]["expectations"]) for r in runs[1])

    # A warning keeps the file (recorded for the audit); an error quarantines it with its reasons.
    assert sorted(result.accepted) == ["chi_so_dung.csv", "ocop_cu.xlsx", "tot.xlsx"] and result.rejected == ["chi_so.csv"]
    assert query(home.warehouse, 'select file_name, sheet, "row", "column", rule, severity from raw.ingest_problems '
                                 "order by file_name") == [
        ("chi_so.csv", "chi_so.csv", 3, "ma_don_vi", "invalid_value", "error"),
        ("ocop_cu.xlsx", "OCOP", 2, "ngay_quyet_dinh", "ge_column_values_to_match_regex", "warning"),
    ]
    [reasons_file] = home.quarantine.glob("*.reasons.json")
    [problem] = json.loads(reasons_file.read_text("utf-8"))["problems"]
    assert (problem["row"], problem["column"]) == (3, "ma_don_vi") and "'TN'" in problem["message"]
    assert query(home.warehouse, "select count(*) from raw.claims") == [(1,)]
    assert query(home.warehouse, "select count(*) from raw.ocop") == [(2,)]


def test_values_are_judged_once_and_every_row_holding_a_bad_one_is_named():
    """The suites judge each column's distinct values (and uniqueness on full rows): a bad value on
    many rows, a missing value and a repeated key each come back as a problem on every row concerned,
    on the file the row came from, as if every row had been judged."""
    import pyarrow as pa

    from pipelines.ingest.readers import ParsedFile
    from pipelines.ingest.store import table_rows

    files = [ParsedFile(name=f"f{i}.zip", sha256=str(i)) for i in range(2)]
    base = {"ma_xa": "05776", "ky_bao_cao": "2020-06", "tieu_chi": "1", "trang_thai": "true", "source_sheet": "tieu_chi.csv"}
    rows = [
        {**base, "submission_id": "a", "tieu_chi": str(i % 19 + 1), "source_row": i + 2} for i in range(40)
    ] + [{**base, "submission_id": "b", "trang_thai": "maybe", "source_row": 2},
         {**base, "submission_id": "b", "trang_thai": "maybe", "tieu_chi": "2", "source_row": 3},
         {**base, "submission_id": None, "tieu_chi": "3", "source_row": 4}]
    files[0].rows["tieu_chi"], files[1].rows["tieu_chi"] = rows[:40], rows[40:]
    tables = {"tieu_chi": table_rows("tieu_chi", files)}
    [result] = validate_batch(files, tables)
    found = sorted((p.file, p.row, p.column, p.rule) for f in files for p in f.problems)
    # Great Expectations names every row of a repeated key, the first included: all 40 rows of "a".
    repeated = [("f0.zip", i + 2, "submission_id,tieu_chi", "ge_compound_columns_to_be_unique") for i in range(40)]
    assert sorted(found) == sorted(repeated + [
        ("f1.zip", 2, "trang_thai", "ge_column_values_to_be_in_set"),
        ("f1.zip", 3, "trang_thai", "ge_column_values_to_be_in_set"),
        ("f1.zip", 4, "submission_id", "ge_column_values_to_not_be_null")])
    assert (result.rows, result.success, result.unexpected) == (43, False, len(found))
    assert isinstance(tables["tieu_chi"], pa.Table)


def test_the_suites_process_warmed_up_first_is_the_one_the_ingest_takes():
    """`ntm run` starts the suites' process before Dagster loads (expectations.warm_up); the ingest
    takes that one rather than start a second, and a run that never ingested closes it."""
    from pipelines.quality import expectations

    expectations.warm_up()
    warm = expectations._WARM
    with SuitesProcess.take() as taken:
        assert taken is warm and expectations._WARM is None
        assert taken([], {}) == []  # nothing new: answered without waiting for the import
    with SuitesProcess.take() as fresh:  # none warmed: a new one
        assert fresh is not warm
    expectations.warm_up()
    expectations.release_warm()
    assert expectations._WARM is None


def test_a_file_the_suites_reject_while_its_rows_go_in_leaves_no_row_behind(home):
    """The suites judge a chunk in their own process while its rows go in (store._load_chunk): the
    rows of a file they reject come out again in the same transaction, and the file is quarantined
    with the suites' error; the other file of the chunk loads whole."""
    suites = load_suites()
    suites["submissions"] = {**suites["submissions"], "expectations": [
        *suites["submissions"]["expectations"],
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "ky_bao_cao", "value_set": ["2020-06"]},
         "meta": {}, "severity": "critical"}]}
    (home.landing / "thang6.xlsx").write_bytes(workbook_bytes(a_submission(ky="2020-06")))
    (home.landing / "thang7.xlsx").write_bytes(workbook_bytes(a_submission(ky="2020-07", ngay_lap="2020-07-25")))
    with SuitesProcess(suites) as process, duckdb.connect(str(home.warehouse)) as conn:
        result = ingest_landing(home, conn, validate_batch=process)

    assert result.accepted == ["thang6.xlsx"] and result.rejected == ["thang7.xlsx"]
    for table in ("submissions", "tieu_chi", "ocop", "tong_hop"):  # the rows both files hold
        assert query(home.warehouse, f"select distinct file_name from raw.{table}") == [("thang6.xlsx",)], table
    assert result.rows["submissions"] == 1 and result.rows["tieu_chi"] == query(
        home.warehouse, "select count(*) from raw.tieu_chi")[0][0]
    assert query(home.warehouse, "select file_name, status, n_errors from raw.files order by 1") == [
        ("thang6.xlsx", "accepted", 0), ("thang7.xlsx", "rejected", 1)]
    assert query(home.warehouse, "select file_name, \"column\", rule, severity from raw.ingest_problems") == [
        ("thang7.xlsx", "ky_bao_cao", "ge_column_values_to_be_in_set", "error")]
    assert [p.name for p in home.quarantine.glob("*.xlsx")] and len(list(home.archive.iterdir())) == 1


def test_one_process_judges_each_chunk_on_its_own_rows_and_its_own_suite():
    """The suites' process keeps its Great Expectations suites and batch definitions from chunk to
    chunk (expectations._suite_and_batches): each chunk is still judged on its own rows, a clean chunk
    after a bad one passes, a bad one after a clean one fails, and a changed suite judges as changed."""
    from pipelines.ingest.readers import ParsedFile
    from pipelines.ingest.store import table_rows

    def chunk(status: str, suites=None) -> list:
        [parsed] = [ParsedFile(name=f"{status}.zip", sha256=status)]
        parsed.rows["tieu_chi"] = [{"submission_id": "a", "ma_xa": "05776", "ky_bao_cao": "2020-06", "tieu_chi": "1",
                                    "trang_thai": status, "source_sheet": "tieu_chi.csv", "source_row": 2}]
        validate_batch([parsed], {"tieu_chi": table_rows("tieu_chi", [parsed])}, suites)
        return [(p.row, p.column, p.rule) for p in parsed.problems]

    bad = [(2, "trang_thai", "ge_column_values_to_be_in_set")]
    assert [chunk("maybe"), chunk("true"), chunk("true"), chunk("maybe")] == [bad, [], [], bad]
    suites = load_suites()
    suites["tieu_chi"] = {**suites["tieu_chi"], "expectations": [*suites["tieu_chi"]["expectations"], {
        "type": "expect_column_values_to_be_in_set", "kwargs": {"column": "ky_bao_cao", "value_set": ["2020-07"]},
        "meta": {}, "severity": "critical"}]}
    assert chunk("true", suites) == [(2, "ky_bao_cao", "ge_column_values_to_be_in_set")] and chunk("true") == []
