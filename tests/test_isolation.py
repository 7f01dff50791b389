"""No file can stop a run (issue 10 items 1-3, contract §4) and `ntm validate` says what `ntm run`
will do; the warehouse's receipt time (issue 9).

One real `ntm run` (the `run` fixture) over a landing folder of hostile files next to valid ones;
the rest goes through the real ingest (`ingest_landing` on a DuckDB file) or the real worker pool.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import duckdb
import openpyxl
import pytest

from pipelines.ingest import normalize
from pipelines.ingest.receipts import VIETNAM, record_receipts
from pipelines.ingest.landing import quarantine_path
from pipelines.ingest.store import create_raw_tables, ingest_landing
from pipelines.ingest.validate import validate_file
from pipelines.ingest.worker import live_workers, parse_files, release_workers
from pipelines.lib.resources import NtmSettings
from pipelines.samples import Submission, bundle_bytes, claims_bytes, workbook_bytes
from pipelines.settings import HomePaths, Limits
from tests.conftest import query

# Communes of huyện Đại Từ, Thái Nguyên (legacy codes).
COMMUNES = ["05776", "05779", "05773", "05785"]


def a_submission(ma_xa="05776", ky="2020-06", ngay_lap="2020-06-25", **overrides) -> Submission:
    values = dict(ma_xa=ma_xa, ten_xa=None, ma_tinh="19", ky_bao_cao=ky, bo_tieu_chi="2016-2020",
                  ngay_lap=ngay_lap, criteria_met=set(range(1, 18)),
                  totals={"so_tieu_chi_dat": 17, "danh_hieu": "Chưa đạt"})
    values.update(overrides)
    return Submission(**values)


def huge_dimension_workbook(lie: bool = False) -> bytes:
    """A submission workbook with one cell at XFD1048576: calamine would allocate the whole sheet
    (512 GB). With `lie`, the sheet declares A1:A1, so only the worker's memory limit stops it."""
    book = openpyxl.load_workbook(io.BytesIO(workbook_bytes(a_submission("05785"))))
    book["TieuChi"]["XFD1048576"] = "x"
    buffer = io.BytesIO()
    book.save(buffer)
    if not lie:
        return buffer.getvalue()
    source, out = zipfile.ZipFile(buffer), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = source.read(name)
            if name.startswith("xl/worksheets/"):
                data = data.replace(b'<dimension ref="A1:XFD1048576" />', b'<dimension ref="A1:A1" />')
            target.writestr(name, data)
    return out.getvalue()


def zip_bomb(expanded_mib: int = 600) -> bytes:
    """About 0.6 MB that expands to `expanded_mib` MiB of thong_tin.csv."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("thong_tin.csv", "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            for _ in range(expanded_mib):
                member.write(block)
    return out.getvalue()


def rezipped(bundle: bytes, extra: dict[str, bytes]) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(bundle)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
        for name, data in extra.items():
            target.writestr(name, data)
    return out.getvalue()


def macos_zipped(bundle: bytes) -> bytes:
    """What Finder's "Compress" makes: every member with an AppleDouble twin under __MACOSX/."""
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 40
    return rezipped(bundle, {**{f"__MACOSX/._{name}": apple_double for name in names},
                             "__MACOSX/.DS_Store": b"\x00\x00\x00\x01Bud1", "._thong_tin.csv": apple_double})


def long_name(stem: str, suffix: str, target_bytes: int = 245) -> str:
    """A Vietnamese file name of `target_bytes` UTF-8 bytes, as titles of reports run."""
    words = "Báo cáo kết quả thực hiện Chương trình mục tiêu quốc gia xây dựng nông thôn mới xã "
    name = stem
    while len((name + words + suffix).encode()) <= target_bytes:
        name += words
    while len((name + "ệ" + suffix).encode()) <= target_bytes:
        name += "ệ"
    return name + suffix


CLAIMS_HEADER = ["cap", "ma_don_vi", "tu_thang", "den_thang", "chi_so", "gia_tri"]


def hostile_landing() -> dict[str, tuple[bytes, str | None]]:
    """name → (bytes, the rule that must quarantine it, or None for a file that loads)."""
    duplicate = bundle_bytes([a_submission("05779", ky="2020-09")])
    thong_tin = zipfile.ZipFile(io.BytesIO(duplicate)).read("thong_tin.csv")
    files = {
        "hop_le.xlsx": (workbook_bytes(a_submission("05776")), None),
        "huyen_hop_le.zip": (bundle_bytes([a_submission("05779")]), None),
        "dong_goi_tren_mac.zip": (macos_zipped(bundle_bytes([a_submission("05773")])), None),
        long_name("Xã Đức Lương ", ".xlsx"): (workbook_bytes(a_submission("05776", ky="2020-07",
                                                                         ngay_lap="2020-07-25")), None),
        long_name("Lỗi ", ".xlsx"): (workbook_bytes(a_submission("05785", criteria_met=set(range(1, 20)),
                                                                 bo_tieu_chi="2021-2025", ky="2099-12")),
                                    "period_after_receipt"),
        "o_xa_xoi.xlsx": (huge_dimension_workbook(), "limit_sheet_cells"),
        "o_xa_xoi_khai_sai.xlsx": (huge_dimension_workbook(lie=True), "reader_crashed"),
        "bom_nen.zip": (zip_bomb(), "limit_expanded_bytes"),
        "hai_thong_tin.zip": (rezipped(duplicate, {"ban_sao/thong_tin.csv": thong_tin.replace(b"2020-09-25",
                                                                                              b"2020-09-26")}),
                              "duplicate_member"),
        "o_qua_dai.csv": (claims_bytes([{"cap": "tinh", "ma_don_vi": "19", "tu_thang": "2020-01",
                                         "den_thang": "2020-06", "chi_so": "so_xa", "gia_tri": "1" * 140_000}]),
                          "unreadable_csv"),
        "ngay_lap_sai.xlsx": (workbook_bytes(a_submission("05773", ky="2020-08", ngay_lap="2029-08-25")),
                              "ngay_lap_after_receipt"),
    }
    if hasattr(normalize, "ascii_digits"):  # the numbers helper's parsing (branch numbers-ingest): 10^15 at most
        files["chi_so_so_la.csv"] = (
            "cap,ma_don_vi,tu_thang,den_thang,chi_so,gia_tri\n"
            "tinh,19,2020-01,2020-06,so_xa,99999999999999999999\n"
            "tinh,19,2020-01,2020-06,so_xa_dat_chuan,９\n".encode(), "invalid_value")
    return files


def verdicts(home: HomePaths) -> dict[str, str]:
    return dict(query(home.warehouse, "select file_name, status from raw.files"))


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    from pipelines.cli import run_pipeline

    home = HomePaths(tmp_path_factory.mktemp("isolation") / "home").ensure()
    files = hostile_landing()
    for name, (data, _) in files.items():
        (home.landing / name).write_bytes(data)
    (home.landing / "~$hop_le.xlsx").write_bytes(b"\x00lock")  # Excel's lock file beside an open workbook
    # What validate says before the run, file by file.
    said = {name: validate_file(home.landing / name, home) for name in files}
    exit_code = run_pipeline(home)
    return home, files, said, exit_code, live_workers()


def test_a_run_over_hostile_files_loads_the_valid_ones_and_quarantines_the_rest(hostile_run):
    home, files, _, exit_code, workers_after = hostile_run
    assert exit_code in (0, 2)
    assert workers_after == 0  # let go after the ingest: the dbt steps after it are the run's peak of memory
    assert [p.name for p in home.landing.iterdir()] == ["~$hop_le.xlsx"]  # skipped, not read
    status = verdicts(home)
    assert status == {name: "rejected" if rule else "accepted" for name, (_, rule) in files.items()}
    assert query(home.warehouse, "select count(distinct ma_xa) from raw.submissions") == [(3,)]
    for name, (_, rule) in files.items():
        if rule is None:
            continue
        [(sha, stored)] = query(home.warehouse, "select file_sha256, stored_path from raw.files where file_name = ?",
                                [name])
        kept = home.home / stored
        assert kept.exists() and len(kept.name.encode()) + len(".reasons.json") <= 255
        reasons = json.loads(kept.with_name(kept.name + ".reasons.json").read_text("utf-8"))
        assert reasons["file"] == name and reasons["sha256"] == sha  # the whole name, however long
        assert rule in {p["rule"] for p in reasons["problems"]}, (name, reasons["problems"])
        assert rule in {r for (r,) in query(home.warehouse, "select rule from raw.ingest_problems "
                                                            "where file_sha256 = ?", [sha])}
    [message] = [p["message"] for p in json.loads(next(home.quarantine.glob("*o_xa_xoi.xlsx.reasons.json"))
                                                  .read_text("utf-8"))["problems"]]
    assert "max_cells_per_sheet" in message and "A1:XFD1048576" in message
    bomb = next(home.quarantine.glob("*bom_nen.zip.reasons.json")).read_text("utf-8")
    assert "max_expanded_mb" in bomb


def test_validate_gives_the_run_verdict_for_every_file(hostile_run, capsys):
    home, files, said, _, _ = hostile_run
    status = verdicts(home)
    for name, (_, rule) in files.items():
        errors = [p for p in said[name] if p.severity == "error"]
        assert bool(errors) == (status[name] == "rejected"), (name, [p.describe() for p in said[name]])
        if rule:
            assert rule in {p.rule for p in errors}, (name, [p.describe() for p in said[name]])
    from pipelines.cli import main

    assert main(["--home", str(home.home), "validate", str(home.landing / "~$hop_le.xlsx")]) == 0
    assert "skipped_file" in capsys.readouterr().out


def test_receipt_time_is_when_the_warehouse_got_the_file_and_the_mtime_is_kept(hostile_run):
    home, _, _, _, _ = hostile_run
    types = dict(query(home.warehouse, "select column_name, data_type from information_schema.columns "
                                       "where table_schema = 'raw' and table_name = 'files'"))
    assert types["arrived_at"] == "TIMESTAMP WITH TIME ZONE" and types["file_mtime"] == "TIMESTAMP WITH TIME ZONE"
    [(arrived, mtime)] = query(home.warehouse, "select arrived_at, file_mtime from raw.files "
                                               "where file_name = 'hop_le.xlsx'")
    assert arrived.tzinfo is not None and abs(arrived - dt.datetime.now(VIETNAM)) < dt.timedelta(minutes=30)
    assert mtime is not None and mtime <= arrived + dt.timedelta(seconds=1)
    assert not home.receipts.exists() or "hop_le" not in home.receipts.read_text("utf-8")  # journal pruned


# --- the real ingest and the worker pool, without dbt ----------------------------------------------

def ingest(home: HomePaths, files: dict[str, bytes], **options):
    for name, data in files.items():
        (home.landing / name).write_bytes(data)
    with duckdb.connect(str(home.warehouse)) as conn:
        return ingest_landing(home, conn, **options)


def test_a_reader_that_aborts_takes_only_its_file_and_the_pool_goes_on(tmp_path):
    liar, good = tmp_path / "khai_sai.xlsx", tmp_path / "tot.xlsx"
    liar.write_bytes(huge_dimension_workbook(lie=True))
    good.write_bytes(workbook_bytes(a_submission()))
    first = parse_files([liar, good, liar, good], Limits(), workers=2)
    assert [p.problems[0].rule if p.problems else None for p in first] == ["reader_crashed", None, "reader_crashed", None]
    assert "signal" in first[0].problems[0].message
    [again] = parse_files([good], Limits(), workers=2)  # fresh workers took over
    assert again.kind == "submission" and not again.problems and again.tables["tieu_chi"].num_rows == 19
    assert live_workers() > 0
    release_workers()  # as a run does after its ingest: the next parse forks new ones
    assert live_workers() == 0
    after = parse_files([good, good], Limits(), workers=2)
    assert [parsed.problems for parsed in after] == [[], []] and live_workers() == 2


def test_limits_are_set_by_the_environment_or_the_settings_resource(home, monkeypatch):
    monkeypatch.setenv("NTM_MAX_ZIP_MEMBERS", "3")
    assert Limits.from_env().max_zip_members == 3
    assert NtmSettings(max_zip_members=7, max_file_mb=0.01).limits() == Limits(max_zip_members=7, max_file_mb=0.01)
    bundle = bundle_bytes([a_submission()])
    result = ingest(home, {"nam_tep.zip": bundle, "tiny.xlsx": workbook_bytes(a_submission(ky="2020-05"))},
                    limits=Limits.from_env(max_file_mb=0.001))
    assert result.accepted == [] and sorted(result.rejected) == ["nam_tep.zip", "tiny.xlsx"]
    rules = dict(query(home.warehouse, "select file_name, string_agg(rule, ',') from raw.ingest_problems group by 1"))
    assert rules == {"nam_tep.zip": "limit_file_bytes", "tiny.xlsx": "limit_file_bytes"}
    message = query(home.warehouse, "select message from raw.ingest_problems limit 1")[0][0]
    assert "max_file_mb" in message


def test_bundle_members_that_climb_out_are_errors_and_nothing_is_written(home):
    bundle = rezipped(bundle_bytes([a_submission()]), {"../../tieu_chi_them.csv": b"x", "/etc/ocop.csv": b"y"})
    ingest(home, {"leo_ra.zip": bundle})
    problems = query(home.warehouse, "select sheet, rule from raw.ingest_problems order by 1")
    assert problems == [("../../tieu_chi_them.csv", "unsafe_member_name"), ("/etc/ocop.csv", "unsafe_member_name")]
    assert not (home.home.parent / "tieu_chi_them.csv").exists()


def test_quarantine_names_fit_the_file_system_and_keep_their_suffix(home):
    name = long_name("Xã Đức Lương ", ".xlsx", target_bytes=250)
    kept = quarantine_path(home, "ab" * 32, name)
    assert len((kept.name + ".reasons.json").encode()) <= 255 and kept.name.endswith("~.xlsx")
    assert kept.name.startswith("abababababab_Xã Đức Lương")
    kept.write_bytes(b"x")  # the file system takes it
    assert quarantine_path(home, "ab" * 32, "ngan.xlsx").name == "abababababab_ngan.xlsx"


def test_receipt_comes_from_the_journal_and_ngay_lap_after_it_is_an_error(home):
    """The sensor saw the files on 2 January 2026 (journal); the run comes later."""
    phong_quang = dict(ma_xa="01849", bo_tieu_chi="2021-2025")  # a commune of the 2025 units, Thái Nguyên
    files = {"dung.xlsx": workbook_bytes(a_submission(**phong_quang, ky="2025-12", ngay_lap="2026-01-03")),  # a day's grace
             "sai.xlsx": workbook_bytes(a_submission(**phong_quang, ky="2025-11", ngay_lap="2026-01-04")),
             # a report for the month of receipt may come in during it; one for a month not yet begun may not
             "thang.xlsx": workbook_bytes(a_submission(ma_xa="01849", bo_tieu_chi="2026-2030", ky="2026-01",
                                                       ngay_lap="2026-01-02", criteria_met=set(range(1, 9)))),
             "som.xlsx": workbook_bytes(a_submission(ma_xa="01849", bo_tieu_chi="2026-2030", ky="2026-02",
                                                     ngay_lap="2026-01-02", criteria_met=set(range(1, 9))))}
    for name, data in files.items():
        (home.landing / name).write_bytes(data)
    record_receipts(home, sorted(home.landing.iterdir()))
    seen = dt.datetime(2026, 1, 2, 16, 30, tzinfo=VIETNAM)
    lines = [json.loads(line) for line in home.receipts.read_text("utf-8").splitlines()]
    home.receipts.write_text("".join(json.dumps({**line, "received_at": seen.isoformat()}) + "\n" for line in lines))
    result = ingest(home, {})
    assert sorted(result.accepted) == ["dung.xlsx", "thang.xlsx"] and sorted(result.rejected) == ["sai.xlsx", "som.xlsx"]
    assert query(home.warehouse, 'select file_name, rule, "column" from raw.ingest_problems order by 1') == [
        ("sai.xlsx", "ngay_lap_after_receipt", "ngay_lap"), ("som.xlsx", "period_after_receipt", "ky_bao_cao")]
    arrived = query(home.warehouse, "select arrived_at from raw.files where file_name = 'dung.xlsx'")[0][0]
    assert arrived == seen
    assert home.receipts.read_text("utf-8") == ""  # every journaled file has left landing/


def test_an_old_warehouse_is_migrated_to_receipt_times(home):
    with duckdb.connect(str(home.warehouse)) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.files (file_sha256 varchar primary key, file_name varchar, kind varchar, "
                     "arrived_at timestamp, ingested_at timestamp, status varchar, stored_path varchar, "
                     "n_errors integer, n_warnings integer)")
        conn.execute("insert into raw.files values ('abc', 'cu.xlsx', 'submission', '2024-03-01 08:00:00', "
                     "'2024-03-02 09:00:00', 'accepted', 'archive/abc.xlsx', 0, 0)")
        create_raw_tables(conn)
        create_raw_tables(conn)  # twice: nothing more to do
        conn.execute("set TimeZone = 'UTC'")
        [(arrived, mtime, kind)] = conn.execute(
            "select arrived_at, file_mtime, typeof(arrived_at) from raw.files").fetchall()
        local = conn.execute("select cast(timestamp '2024-03-01 08:00:00' as timestamptz)").fetchone()[0]
    assert kind == "TIMESTAMP WITH TIME ZONE" and arrived == mtime == local


def test_a_file_whose_rows_the_database_refuses_is_quarantined_and_the_batch_loads(home):
    """A constraint the loader knows nothing of stands for any refusal by the database."""
    with duckdb.connect(str(home.warehouse)) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.claims (claim_id varchar, cap varchar, ma_don_vi varchar, tu_thang varchar, "
                     "den_thang varchar, chi_so varchar, gia_tri varchar check (gia_tri <> '13'), gia_tri_goc varchar, "
                     "nguon varchar, so_chu_so_thap_phan integer, file_sha256 varchar, file_name varchar, "
                     "source_sheet varchar, source_row integer)")
    claim = {"cap": "tinh", "ma_don_vi": "19", "tu_thang": "2020-01", "den_thang": "2020-06", "chi_so": "so_xa"}
    result = ingest(home, {"tu_choi.csv": claims_bytes([{**claim, "gia_tri": "13"}]),
                           "nhan.csv": claims_bytes([{**claim, "gia_tri": "12"}]),
                           "bao_cao.xlsx": workbook_bytes(a_submission())})
    assert sorted(result.accepted) == ["bao_cao.xlsx", "nhan.csv"] and result.rejected == ["tu_choi.csv"]
    assert query(home.warehouse, "select gia_tri from raw.claims") == [("12",)]
    assert query(home.warehouse, "select file_name, rule from raw.ingest_problems") == [("tu_choi.csv", "load_failed")]
    assert list(home.landing.iterdir()) == []


def test_a_sensor_look_journals_the_receipt(home):
    from pipelines.defs.sensors import landing_look

    (home.landing / "moi.xlsx").write_bytes(workbook_bytes(a_submission()))
    (home.landing / "~$moi.xlsx").write_bytes(b"lock")
    settings = NtmSettings(home=str(home.home))
    assert landing_look(settings) == landing_look(settings)  # the same waiting set
    [line] = home.receipts.read_text("utf-8").splitlines()  # journaled once, the lock file not at all
    entry = json.loads(line)
    assert entry["key"].startswith("moi.xlsx\0") and dt.datetime.fromisoformat(entry["received_at"]).tzinfo
