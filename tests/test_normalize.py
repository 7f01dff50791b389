import pytest

from pipelines.ingest import normalize as n


@pytest.mark.parametrize("text, expected", [
    ("45,5", ("45.5", 1)), ("1.234.567", ("1234567", 0)), ("72%", ("72", 0)), ("72,0", ("72.0", 1)),
    ("17.5", ("17.5", 1)), ("12,345.6", ("12345.6", 1)), (3.0, ("3", 0)), (" 1 234 ", ("1234", 0)),
])
def test_numbers_written_the_vietnamese_way(text, expected):
    assert n.number(text) == expected


@pytest.mark.parametrize("bad", ["abc", "1,2,3.4.5", "", None])
def test_not_a_number_says_so(bad):
    with pytest.raises(ValueError):
        n.number(bad)


def test_codes_keep_leading_zeros_also_when_stored_as_numbers():
    assert n.code(1234.0, 5) == "01234"
    assert n.code("00004", 5) == "00004"
    with pytest.raises(ValueError, match="5-digit"):
        n.code("123456", 5)


def test_periods_and_their_last_month():
    assert n.period("2020-h1") == "2020-H1"
    assert n.period("6/2020") == "2020-06"
    assert n.period("2020-Q3") == "2020-Q3"
    assert [n.period_last_month(p) for p in ("2020-H1", "2020-Q3", "2020", "2020-05")] == \
        ["2020-06", "2020-09", "2020-12", "2020-05"]
    with pytest.raises(ValueError):
        n.period("2020-13")


def test_dates_status_words_and_header_folding():
    assert n.date("05/07/2020") == "2020-07-05"
    assert [n.status(v) for v in ("Đạt", "chua dat", "x", None, 1, "0")] == ["true", "false", "true", "false",
                                                                             "true", "false"]
    assert n.fold("Mã  Xã") == n.fold("ma_xa") == n.fold("MA XA")
    nfd = "Tha\u0300nh"  # combining grave accent
    assert n.cell_text(nfd) == "Thành"
