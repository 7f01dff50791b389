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


@pytest.mark.parametrize("text, expected", [
    ("９", ("9", 0)), ("٧٢,٥", ("72.5", 1)), ("۷۲", ("72", 0)), ("１２，５％", ("12.5", 1)), ("७२", ("72", 0)),
    ("-0", ("0", 0)), ("-0,0", ("0.0", 1)), ("+5", ("5", 0)), ("0.125", ("0.125", 3)), ("1.234,50", ("1234.50", 2)),
    (0.1 + 0.2, ("0.3", 1)), (-0.0, ("0", 0)), (87 / 121 * 100, ("71.90082645", 8)),
])
def test_other_digits_signs_and_floats_as_excel_shows_them(text, expected):
    assert n.number(text) == expected


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e30", "1E+5", "99999999999999999999", "0x1F", "12²",
                                 float("nan"), float("inf"), 1e30, True])
def test_odd_numbers_are_value_errors_with_a_message(bad):
    with pytest.raises(ValueError, match="không phải số|quá lớn"):
        n.number(bad)


def test_counts_are_whole_and_within_range():
    assert n.integer("1.000.000.000") == "1000000000"  # the upper bound itself
    for bad, message in (("2147483648", "out of range"), ("-3", "out of range"), ("1,5", "not a whole number"),
                         ("1e30", "not a number")):
        with pytest.raises(ValueError, match=message):
            n.integer(bad)
    assert n.integer("-0") == "0"


def test_an_ambiguous_number_is_read_by_its_field_and_noted():
    as_decimal, decimals = n.number("72.125", n.DECIMAL)
    assert (as_decimal, decimals) == ("72.125", 3) and type(as_decimal) is n.Noted
    assert as_decimal.rule == "ambiguous_number" and "read as 72.125" in as_decimal.note
    as_count = n.integer("1.250")
    assert as_count == "1250" and type(as_count) is n.Noted and "read as 1250" in as_count.note
    assert type(n.number("1.234.567")[0]) is str and type(n.number("0.125")[0]) is str  # not ambiguous


def test_non_ascii_digits_in_codes_periods_dates_and_status():
    assert n.code("０５７７６", 5) == "05776"
    assert n.code(" ٠٥٧٧٦ ", 5) == "05776"
    assert n.period("２０２５－０７") == "2025-07" and n.month("۲۰۲۵-۰۷") == "2025-07"
    assert n.date("０５/０７/２０２０") == "2020-07-05"
    assert n.status("１") == "true"
    for bad in ("０５７７６x", "1²345"):
        with pytest.raises(ValueError, match="5-digit"):
            n.code(bad, 5)
    with pytest.raises(ValueError):
        n.period("２０２５－１３")
