"""The column reader of CSV bundles (pipelines/ingest/bundle_columns.py) against the general reader.

The column reader may decline a bundle (the general reader then reads it), but a bundle it reads
must give exactly the general reader's verdict and rows. Checked on generated national bundles,
on every bundle the fuzz test's mutation classes make, and on hand-made edge cases.
"""

from __future__ import annotations

import io
import random
import zipfile

import pytest

import pipelines.ingest.bundle_columns as columns
import pipelines.ingest.readers as readers
from pipelines.ingest.raw_schema import DATA_TABLES, file_tables
from pipelines.samples import bundle_bytes
from tests.fuzz_support import a_submission
from tests.mutations import MUTATIONS, make_case


@pytest.fixture(autouse=True)
def any_size(monkeypatch):
    """The column reader takes bundles of any size here (in a run, only those of ~50 submissions and up)."""
    monkeypatch.setattr(columns, "MIN_THONG_TIN_BYTES", 0)


def _general(name: str, data: bytes, monkeypatch) -> readers.ParsedFile:
    with monkeypatch.context() as patched:
        patched.setattr(columns, "read_bundle_columns", lambda *args: None)
        return readers.parse_bytes(name, data)


def _rows(parsed: readers.ParsedFile) -> dict[str, list]:
    tables = parsed.tables or file_tables(parsed.rows)
    return {table: sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in tables[table].to_pylist())
            for table in DATA_TABLES if table in tables}


def assert_same(name: str, data: bytes, monkeypatch) -> bool:
    """True when the column reader read the file; either way, both readers agree."""
    ours, general = readers.parse_bytes(name, data), _general(name, data, monkeypatch)
    assert [p.as_dict() for p in ours.problems] == [p.as_dict() for p in general.problems], name
    assert ours.kind == general.kind, name
    assert _rows(ours) == _rows(general), name
    if ours.tables and not ours.rows:
        assert {t: ours.tables[t].schema for t in ours.tables} == {t: file_tables(general.rows)[t].schema
                                                                    for t in ours.tables}
        return True
    return False


def _bundle(seed: int, count: int = 3) -> bytes:
    rng, subs, seen = random.Random(seed), [], set()
    for _ in range(count):
        sub = a_submission(rng)
        if (sub.ma_xa, sub.ky_bao_cao) not in seen:
            seen.add((sub.ma_xa, sub.ky_bao_cao))
            subs.append(sub)
    return bundle_bytes(subs)


def _edit(data: bytes, member: str, edit) -> bytes:
    """The bundle with one member's text changed by `edit(text) -> text`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = source.read(info)
            if info.filename == member:
                body = edit(body.decode("utf-8")).encode("utf-8")
            target.writestr(info.filename, body)
    return out.getvalue()


def test_generated_national_bundles_are_read_by_columns_with_the_general_readers_rows(tmp_path, monkeypatch):
    from pipelines.generate import generate_history

    generate_history(tmp_path, communes=120, months=14, first_month="2024-12", seed=5)
    bundles = sorted((tmp_path / "landing").glob("*.zip"))
    assert bundles
    read = [assert_same(path.name, path.read_bytes(), monkeypatch) for path in bundles]
    assert all(read)  # generated bundles are clean: the column reader takes every one, both eras


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_mutated_bundles_give_the_general_readers_verdict_and_rows(mutation, monkeypatch):
    for seed in range(25):
        case = make_case(mutation, seed)
        assert_same(case.name, case.data, monkeypatch)


EDGES = {
    "totals row": ("tieu_chi.csv", lambda t: t + "Tổng cộng,,,\n"),
    "blank line": ("tieu_chi.csv", lambda t: t.replace("\n", "\n\n", 1)),
    "trailing blank line": ("ocop.csv", lambda t: t + "\n"),
    "crlf": ("thong_tin.csv", lambda t: t.replace("\n", "\r\n")),
    "bom": ("thong_tin.csv", lambda t: "\ufeff" + t),
    "labels as headers": ("tieu_chi.csv", lambda t: t.replace("ma_xa,ky_bao_cao,tieu_chi,trang_thai",
                                                              "Mã xã,Kỳ báo cáo,Tiêu chí,Trạng thái", 1)),
    "quoted header": ("tieu_chi.csv", lambda t: '"ma_xa",' + t.split(",", 1)[1]),
    "quoted value with newline": ("thong_tin.csv", lambda t: t.replace("Văn phòng NTM xã", '"Văn phòng\nNTM xã"')),
    "spaces around values": ("tieu_chi.csv", lambda t: t.replace(",Đạt", ", Đạt ")),
    "blank status": ("tieu_chi.csv", lambda t: t.replace(",Chưa đạt", ",", 1)),
    "short row": ("tieu_chi.csv", lambda t: t.replace(",Đạt\n", "\n", 1)),
    "long row": ("tieu_chi.csv", lambda t: t.replace(",Đạt\n", ",Đạt,thừa\n", 1)),
    "repeated criterion": ("tieu_chi.csv", lambda t: t + t.splitlines()[1] + "\n"),
    "orphan row": ("ocop.csv", lambda t: t + "19999" + t.splitlines()[1][5:] + "\n"),
    "ambiguous number": ("tong_hop.csv", lambda t: t.replace(",12.5", ",12.500", 1)),
    "duplicate column": ("tieu_chi.csv", lambda t: t.replace("trang_thai", "trang_thai,trang_thai", 1)),
    "unicode digits": ("tieu_chi.csv", lambda t: t.replace(",1,", ",１,", 1)),
    "code as short number": ("thong_tin.csv", lambda t: t.replace(",19,", ",019,", 1)),
}


@pytest.mark.parametrize("edge", sorted(EDGES))
def test_edge_cases_give_the_general_readers_verdict_and_rows(edge, monkeypatch):
    member, edit = EDGES[edge]
    for seed in range(3):
        assert_same(f"{edge}.zip", _edit(_bundle(seed), member, edit), monkeypatch)


def test_small_bundles_go_to_the_general_reader(monkeypatch):
    monkeypatch.setattr(columns, "MIN_THONG_TIN_BYTES", 4096)
    assert not assert_same("small.zip", _bundle(1), monkeypatch)
    assert assert_same("large.zip", _bundle(2, count=80), monkeypatch)


def test_the_column_reader_declines_what_the_general_reader_remarks_on(monkeypatch):
    clean = _bundle(1)
    assert assert_same("clean.zip", clean, monkeypatch)
    for edge in ("totals row", "blank line", "repeated criterion", "orphan row", "ambiguous number"):
        member, edit = EDGES[edge]
        assert not assert_same(f"{edge}.zip", _edit(clean, member, edit), monkeypatch), edge
