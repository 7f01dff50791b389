"""The progress report (contract §6) on the demo's published warehouse, through the `ntm` command.

The numbers the report must state are read here straight from `mart_unit_month` and written the
Vietnamese way by this test's own formatter; files are reopened with python-calamine and openpyxl;
the page is rendered by a real headless Chromium whose network log must show no external request.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from pipelines.settings import SAMPLES_DIR, HomePaths
from tests.conftest import NTM, query

TU, DEN = "2020-01", "2020-06"
STOCKS = ["so_xa", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao", "so_xa_kieu_mau", "so_xa_dat_19_tc",
          "so_xa_15_18_tc", "so_xa_10_14_tc", "so_xa_5_9_tc", "so_xa_duoi_5_tc", "so_xa_duoi_10_tc",
          "binh_quan_tieu_chi", "so_san_pham_ocop", "so_san_pham_ocop_3_sao", "so_san_pham_ocop_4_sao",
          "so_san_pham_ocop_5_sao", "so_thon_kieu_mau"]
FLOWS = ["so_mo_hinh_sxkd_moi", "so_htx_moi", "so_tht_moi", "so_dn_moi", "von_ke_hoach_trieu_dong",
         "von_giai_ngan_trieu_dong", "xi_mang_tan"]
UNITS = {"ty_le_xa_dat_chuan": "%", "binh_quan_tieu_chi": " tiêu chí", "von_ke_hoach_trieu_dong": " triệu đồng",
         "von_giai_ngan_trieu_dong": " triệu đồng", "xi_mang_tan": " tấn", "so_thon_kieu_mau": " thôn, xóm",
         "so_mo_hinh_sxkd_moi": " mô hình sản xuất kinh doanh", "so_htx_moi": " hợp tác xã",
         "so_tht_moi": " tổ hợp tác", "so_dn_moi": " doanh nghiệp"}


def thai_nguyen_code() -> str:
    """The province the sample's claims speak for (the Thái Nguyên seed report)."""
    with (SAMPLES_DIR / "landing" / "chi_so_bao_cao.csv").open(encoding="utf-8") as handle:
        return next(row["ma_don_vi"] for row in csv.DictReader(handle) if row["cap"] == "tinh")


def vietnamese(value: float, decimals: int) -> str:
    """This test's own writing of a number: dot thousands, decimal comma."""
    whole, _, fraction = f"{round(float(value), decimals):.{decimals}f}".partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:]] + groups
    return ".".join([whole] + groups) + ("," + fraction if fraction else "")


def expected_numbers(published: Path, code: str) -> dict[str, float]:
    stock = query(published, f"select {', '.join(STOCKS)} from mart_unit_month "
                              "where cap = 'tinh' and ma_don_vi = ? and thang = ?", [code, DEN])[0]
    flows = query(published, f"select {', '.join(f'sum({f})' for f in FLOWS)} from mart_unit_month "
                              "where cap = 'tinh' and ma_don_vi = ? and thang between ? and ?", [code, TU, DEN])[0]
    return {**dict(zip(STOCKS, map(float, stock))), **dict(zip(FLOWS, map(float, flows)))}


def stated(name: str, value: float) -> str:
    decimals = 1 if name.startswith(("ty_le", "binh_quan")) else 0
    unit = UNITS.get(name, " sản phẩm" if "ocop" in name else " xã")
    return vietnamese(value, decimals) + unit


def ntm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NTM, *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def thai_nguyen_report(demo_home: HomePaths, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("tien_do")
    code = thai_nguyen_code()
    done = ntm("--home", str(demo_home.home), "progress", "--cap", "tinh", "--ma-don-vi", code,
               "--tu", TU, "--den", DEN, "-o", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    stem = f"tien_do_tinh_{code}_{TU}_{DEN}"
    files = {kind: out / f"{stem}.{kind}" for kind in ("html", "xlsx", "md")}
    assert all(path.exists() for path in files.values()), sorted(out.iterdir())
    return files


def page_text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


def test_report_states_the_numbers_mart_unit_month_holds(demo_home, thai_nguyen_report):
    numbers = expected_numbers(demo_home.published_db, thai_nguyen_code())
    assert numbers["so_xa_dat_chuan"] == 87 and numbers["so_xa"] == 121  # the seed report's area
    markdown = thai_nguyen_report["md"].read_text("utf-8")
    text = page_text(thai_nguyen_report["html"].read_text("utf-8"))
    assert "6 tháng đầu năm 2020" in markdown
    for name, value in numbers.items():
        assert stated(name, value) in markdown, (name, stated(name, value))
        assert stated(name, value) in text, (name, stated(name, value))
    # the share is written with a decimal comma, the amounts with dot thousands
    assert "71,9%" in markdown and "136.011 triệu đồng" in markdown


def test_each_stated_number_carries_its_reconciliation(demo_home, thai_nguyen_report):
    claims = query(demo_home.published_db, "select chi_so, khop from claim_reconciliation where cap = 'tinh' "
                                           "and ma_don_vi = ? and tu_thang = ? and den_thang = ?",
                   [thai_nguyen_code(), TU, DEN])
    assert claims and all(khop for _, khop in claims)
    markdown = thai_nguyen_report["md"].read_text("utf-8")
    numbers = expected_numbers(demo_home.published_db, thai_nguyen_code())
    claimed = {name for name, _ in claims}
    for name, value in numbers.items():
        status = "khớp" if name in claimed else "chưa có số liệu báo cáo"
        assert f"{stated(name, value)} ({status})" in markdown, name
    page = thai_nguyen_report["html"].read_text("utf-8")
    assert page.count('class="dc khop"') >= len(claims)


def test_workbook_reopens_with_the_same_numbers(demo_home, thai_nguyen_report):
    numbers = expected_numbers(demo_home.published_db, thai_nguyen_code())
    book = CalamineWorkbook.from_path(str(thai_nguyen_report["xlsx"]))
    assert book.sheet_names[0] == "ChiSo" and {"TheoThang", "DonVi", "Xa"} <= set(book.sheet_names)
    rows = book.get_sheet_by_name("ChiSo").to_python()
    assert rows[0][:2] == ["chi_so", "gia_tri"]
    values = {row[0]: row[1] for row in rows[1:]}
    for name, value in numbers.items():
        assert isinstance(values[name], (int, float)), (name, values[name])
        assert values[name] == pytest.approx(value), name
    assert values["so_xa_co_bao_cao"] == 121 and values["ty_le_giai_ngan"] == pytest.approx(
        100 * numbers["von_giai_ngan_trieu_dong"] / numbers["von_ke_hoach_trieu_dong"])
    months = book.get_sheet_by_name("TheoThang").to_python()
    assert len(months) == 1 + 6 and months[-1][0] == DEN and months[-1][2] == numbers["so_xa_dat_chuan"]
    communes = book.get_sheet_by_name("Xa").to_python()
    assert len(communes) == 1 + numbers["so_xa"]
    # frozen headers, one page wide
    sheets = openpyxl.load_workbook(thai_nguyen_report["xlsx"])
    for sheet in sheets.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth in (1, None)
        assert sheet.page_setup.fitToHeight == 0


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    from pipelines.publish import progress_excel
    from pipelines.publish.progress import labels, stated_numbers
    from pipelines.publish.progress_data import METRICS, ProgressData

    data = ProgressData(cap="tinh", ma_don_vi="99", ten_don_vi="=HYPERLINK(\"x\")", tu=TU, den=DEN,
                        era="legacy", values={m: 1 for m in METRICS}, claims={},
                        communes=[{"ma_xa": "00001", "ten_xa": "=1+1", "ten_huyen": "+cmd", "danh_hieu": "@NTM"}])
    path = tmp_path / "f.xlsx"
    progress_excel.write_workbook(path, data, stated_numbers(data), labels([15, 10, 5]),
                                  [("Xa", ["ma_xa", "ten_xa", "ten_huyen", "danh_hieu"], data.communes)])
    sheet = openpyxl.load_workbook(path)["Xa"]
    assert [cell.value for cell in sheet[2]] == ["00001", "=1+1", "+cmd", "@NTM"]
    assert all(cell.data_type == "s" for cell in sheet[2])


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def page_requests(browser: str, page: Path, work: Path) -> tuple[str, set[str]]:
    """Render a page in headless Chromium: its DOM, and every URL the page itself asked for.

    Chromium's net log records each request; the page's own carry the file:// page in their
    network isolation key, the browser's background ones (update checks) do not. Host names
    resolve nowhere, so nothing leaves the machine while the log still shows what was asked."""
    net_log = work / "net.json"
    done = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-default-apps",
         "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={work / 'profile'}",
         f"--log-net-log={net_log}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    text = net_log.read_text("utf-8").rstrip().rstrip(",")
    log = json.loads(text if text.endswith("}") else text + "]}")  # a log cut short lacks its closing
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    asked = {event["params"]["url"] for event in log["events"]
             if event["type"] == start_job and "file://" in event["params"].get("network_isolation_key", "")}
    return done.stdout, {url for url in asked if not url.startswith(("file:", "data:"))}


def test_page_renders_in_headless_chromium_without_external_request(thai_nguyen_report, tmp_path):
    page = thai_nguyen_report["html"].read_text("utf-8")
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "@import" not in page and "url(http" not in page
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian package `chromium`; `make browser` installs it as root)")
    # The check sees a page's request: a page with an external image is caught.
    probe = tmp_path / "probe.html"
    probe.write_text('<!doctype html><p>x</p><img src="http://127.0.0.1:9/x.png">', "utf-8")
    (tmp_path / "probe").mkdir()
    assert page_requests(browser, probe, tmp_path / "probe")[1] == {"http://127.0.0.1:9/x.png"}
    (tmp_path / "report").mkdir()
    dom, asked = page_requests(browser, thai_nguyen_report["html"], tmp_path / "report")
    assert not asked, asked
    assert "đạt chuẩn nông thôn mới" in dom and dom.count("<svg") >= 4  # narrative, 3 charts and the map


def test_progress_exits_1_on_an_empty_home_and_an_unknown_unit(demo_home, tmp_path):
    empty = ntm("--home", str(tmp_path / "empty"), "progress", "--cap", "tinh", "--ma-don-vi", "19",
                "--tu", TU, "--den", DEN)
    assert empty.returncode == 1 and "nothing published" in empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1
    unknown = ntm("--home", str(demo_home.home), "progress", "--cap", "tinh", "--ma-don-vi", "98",
                  "--tu", TU, "--den", DEN, "-o", str(tmp_path / "out"))
    assert unknown.returncode == 1 and "unknown unit" in unknown.stderr and "98" in unknown.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_publication_refreshes_every_covered_province_report(demo_home):
    """The demo's run (a real Dagster materialisation) wrote each province's report for its latest range."""
    folder = demo_home.reports / "tien_do"
    names = {path.name for path in folder.iterdir()}
    for stem in (f"tien_do_tinh_{thai_nguyen_code()}_2020-01_2020-06", "tien_do_tinh_42_2017-01_2017-07"):
        assert {f"{stem}.html", f"{stem}.xlsx", f"{stem}.md"} <= names, names


def test_one_failing_province_report_does_not_stop_the_others(demo_home, tmp_path):
    from pipelines.publish.progress import refresh_province_reports

    home = HomePaths(tmp_path / "home").ensure()
    shutil.copy2(demo_home.published_db, home.published_db)
    blocked = home.reports / "tien_do" / "tien_do_tinh_42_2017-01_2017-07.md"
    blocked.mkdir(parents=True)  # a folder where the Markdown file must go: that report cannot be written
    written, failed = refresh_province_reports(home)
    assert [f["ma_don_vi"] for f in failed] == ["42"]
    assert [w["ma_don_vi"] for w in written] == [thai_nguyen_code(), "46"]  # and the present-day Huế
    page = Path(written[0]["files"]["html"])
    assert page.exists() and not written[0]["unchanged"]
    # the next publication with the same rows keeps that report, and still reports the failing one
    before = page.stat().st_mtime_ns
    again, failed_again = refresh_province_reports(home)
    assert again[0]["unchanged"] and page.stat().st_mtime_ns == before
    assert again[0]["values"]["so_xa_dat_chuan"] == written[0]["values"]["so_xa_dat_chuan"]
    assert [f["ma_don_vi"] for f in failed_again] == ["42"]
    # other band edges change what the report says: it is rewritten
    third, _ = refresh_province_reports(home, [17, 12, 5])
    assert not third[0]["unchanged"] and page.stat().st_mtime_ns != before


def test_a_2025_province_counts_its_first_half_through_the_roll_up(demo_home, tmp_path):
    """Across the July 2025 reform: stocks of the 2025 province at den; flows of the months before
    July from mart_province_month_2025, after it from mart_unit_month; a legacy commune's report
    counts for the 2025 commune it became. Tables have the published warehouse's own columns."""
    import duckdb

    from pipelines.publish.progress_data import load

    database = tmp_path / "ntm.duckdb"
    tables = ["mart_unit_month", "mart_province_month_2025", "fct_commune_month", "dim_admin_unit",
              "claim_reconciliation"]
    with duckdb.connect(str(database)) as conn:
        conn.execute(f"attach '{demo_home.published_db}' as pub (read_only)")
        for table in tables:
            conn.execute(f"create table main.{table} as select * from pub.main.{table} limit 0")
        conn.execute("detach pub")
        unit = "insert into mart_unit_month by name select * from (values {}) as t(cap, ma_don_vi, ten_don_vi, " \
               "thang, so_xa, so_xa_dat_chuan, so_mo_hinh_sxkd_moi, von_ke_hoach_trieu_dong, von_giai_ngan_trieu_dong)"
        conn.execute(unit.format(
            "('tinh', '19', 'Tỉnh Thái Nguyên', '2025-05', 90, 50, 100, 1000, 1000),"  # legacy province 19: not used
            "('tinh', '19', 'Tỉnh Thái Nguyên', '2025-07', 2, 1, 3, 10, 5),"
            "('tinh', '19', 'Tỉnh Thái Nguyên', '2025-08', 2, 1, 4, 10, 5),"
            "('xa', 'A', 'Xã A', '2025-08', 1, 1, 4, 10, 5), ('xa', 'B', 'Xã B', '2025-08', 1, 0, 0, 0, 0)"))
        conn.execute("""insert into mart_province_month_2025 by name select * from (values
            ('19', 'Tỉnh Thái Nguyên', '2025-05', 3, 1, 20, 8), ('19', 'Tỉnh Thái Nguyên', '2025-06', 3, 2, 20, 8))
            as t(ma_tinh_2025, ten_tinh_2025, thang, so_xa, so_mo_hinh_sxkd_moi, von_ke_hoach_trieu_dong,
                 von_giai_ngan_trieu_dong)""")
        conn.execute("""insert into fct_commune_month by name select * from (values
            ('legacy', 'L1', '2025-05', '19', true, 1), ('legacy', 'L2', '2025-06', '19', false, 0),
            ('reform2025', 'A', '2025-08', '19', false, 0), ('reform2025', 'B', '2025-08', '19', false, 0))
            as t(era, ma_xa, thang, ma_tinh, co_bao_cao, so_mo_hinh_sxkd_moi)""")
        conn.execute("""insert into dim_admin_unit by name select * from (values
            ('legacy', 'L1', 'A', '19'), ('legacy', 'L2', 'B', '19')) as t(era, ma_xa, ma_xa_2025, ma_tinh_2025)""")
    with duckdb.connect(str(database), read_only=True) as conn:
        data = load(conn, "tinh", "19", "2025-05", "2025-08")
    assert data.era == "reform2025" and data.values["so_xa"] == 2 and data.values["so_xa_dat_chuan"] == 1
    assert [m["thang"] for m in data.months] == ["2025-05", "2025-06", "2025-07", "2025-08"]
    assert data.values["so_mo_hinh_sxkd_moi"] == 1 + 2 + 3 + 4
    assert data.values["ty_le_giai_ngan"] == pytest.approx(100 * (8 + 8 + 5 + 5) / (20 + 20 + 10 + 10))
    assert data.values["so_xa_co_bao_cao"] == 1 and data.values["so_xa_khong_co_mo_hinh_moi"] == 1
    assert data.sub_unit_cap == "xa" and [s["ma_don_vi"] for s in data.sub_units] == ["A", "B"]


def test_a_mismatched_claim_shows_both_numbers_and_names_are_escaped():
    from pipelines.publish.progress import render_html, render_markdown
    from pipelines.publish.progress_data import METRICS, ProgressData

    values = {m: 0 for m in METRICS} | {"so_xa": 121, "so_xa_dat_chuan": 87, "ty_le_xa_dat_chuan": 87 / 121 * 100,
                                        "von_giai_ngan_trieu_dong": 1234567.5, "so_xa_hien_dai": None}
    claims = {"so_xa_dat_chuan": {"khop": False, "gia_tri_bao_cao": 103.0, "so_chu_so_thap_phan": 0},
              "ty_le_xa_dat_chuan": {"khop": False, "gia_tri_bao_cao": 72.5, "so_chu_so_thap_phan": 1},
              "so_xa": {"khop": True, "gia_tri_bao_cao": 121.0, "so_chu_so_thap_phan": 0}}
    data = ProgressData(cap="tinh", ma_don_vi="19", ten_don_vi="Tỉnh <b>Thử</b>", tu=TU, den=DEN, era="legacy",
                        values=values, claims=claims,
                        months=[{"thang": DEN, "so_xa_dat_chuan": 87}], sub_unit_cap="huyen")
    markdown = render_markdown(data, [15, 10, 5])
    assert "87 xã (không khớp, báo cáo: 103)" in markdown
    assert "71,9% (không khớp, báo cáo: 72,5%)" in markdown and "121 xã (khớp)" in markdown
    assert "1.234.568 triệu đồng (chưa có số liệu báo cáo)" in markdown
    assert "hiện đại" not in markdown  # a metric the marts do not carry leaves its clause out
    page = render_html(data, [15, 10, 5])
    assert "<b>Thử</b>" not in page and "&lt;b&gt;Thử&lt;/b&gt;" in page
    assert re.search(r'87 xã</b> <span class="dc khong_khop">không khớp: báo cáo 103</span>', page)


def test_the_charts_place_every_commune_and_bar_inside_their_frames():
    """The progress charts are laid out by hand (progress_charts.py): every commune with coordinates
    is a point inside the map's frame, counted in its title's legend entry; north is up and east is
    right; bars are as long as their numbers; names are escaped."""
    import xml.etree.ElementTree as ET

    from pipelines.publish import progress_charts as charts
    from pipelines.publish.progress import draw_chart

    communes = [{"ma_xa": str(i), "kinh_do": 105.5 + (i % 7) * 0.07, "vi_do": 21.3 + (i // 7) * 0.05,
                 "danh_hieu": ["NTM", "Chưa đạt", None, "NTM nâng cao"][i % 4]} for i in range(40)]
    communes.append({"ma_xa": "x", "kinh_do": None, "vi_do": None, "danh_hieu": "NTM"})
    layout, unplaced = charts.title_map(communes)
    assert unplaced == 1
    svg = ET.fromstring(draw_chart(layout))
    frame = next(e for e in svg.iter() if e.tag.endswith("rect"))
    left, top = float(frame.get("x")), float(frame.get("y"))
    right, bottom = left + float(frame.get("width")), top + float(frame.get("height"))
    groups = [g for g in svg.iter() if g.tag.endswith("g") and g.find("{*}title") is not None]
    placed = {g.find("{*}title").text: [(float(c.get("cx")), float(c.get("cy"))) for c in g if c.tag.endswith("circle")]
              for g in groups}
    assert sum(map(len, placed.values())) == 40 and len(placed[charts.NO_DATA]) == 10
    assert all(left <= x <= right and top <= y <= bottom for points in placed.values() for x, y in points)
    legend = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
    assert "NTM (10)" in legend and "Chưa đạt (10)" in legend and f"{charts.NO_DATA} (10)" in legend
    two_layout, _ = charts.title_map([{"kinh_do": 105.0, "vi_do": 21.0, "danh_hieu": "NTM"},
                               {"kinh_do": 106.0, "vi_do": 22.0, "danh_hieu": "Chưa đạt"}])
    points = {g.find("{*}title").text: g.find("{*}circle") for g in ET.fromstring(draw_chart(two_layout)).iter()
              if g.tag.endswith("g") and g.find("{*}title") is not None}
    south_west, north_east = points["NTM"], points["Chưa đạt"]
    assert float(south_west.get("cx")) < float(north_east.get("cx"))  # east is right
    assert float(south_west.get("cy")) > float(north_east.get("cy"))  # north is up

    bars = ET.fromstring(draw_chart(charts.horizontal_bars([("3 sao", 40), ("4 sao <b>", 10), ("5 sao", 0)], str,
                                                           "OCOP", "#fb8c00")))
    widths = [float(r.get("width")) for r in bars.iter() if r.tag.endswith("rect")]
    assert widths[0] == pytest.approx(4 * widths[1], abs=0.5) and widths[2] == 0
    assert "4 sao <b>" in [t.text for t in bars.iter() if t.tag.endswith("text")]  # text, not markup
    assert charts.nice_ticks(0, 115) == [0, 25, 50, 75, 100] and charts.nice_ticks(105.61, 106.23, 4) == [105.8, 106.0, 106.2]


def test_the_map_places_communes_at_the_centres_the_published_units_hold(demo_home):
    """Coordinates come from dim_admin_unit (vietnamadminunits' centres, loaded with the reference),
    so a report needs no import of the package: every commune of Thái Nguyên is placed, inside it."""
    import duckdb

    from pipelines.publish.progress_data import load

    with duckdb.connect(str(demo_home.published_db), read_only=True) as conn:
        data = load(conn, "tinh", thai_nguyen_code(), TU, DEN)
        held = dict(((ma_xa, (lat, lon)) for ma_xa, lat, lon in conn.execute(
            "select ma_xa, vi_do, kinh_do from dim_admin_unit where era = 'legacy'").fetchall()))
    assert data.communes and all(c["vi_do"] is not None for c in data.communes)
    assert all(21.2 < c["vi_do"] < 22.1 and 105.4 < c["kinh_do"] < 106.3 for c in data.communes)
    assert all(held[c["ma_xa"]] == (c["vi_do"], c["kinh_do"]) for c in data.communes)

    # Across the reform: Huế's 2025 year (January-June through the roll-up) ends on the 2025 units,
    # placed at their own centres, not at those of the legacy communes that had the same codes.
    with duckdb.connect(str(demo_home.published_db), read_only=True) as conn:
        hue = load(conn, "tinh", "46", "2025-01", "2025-12")
        centres = {(era, ma_xa): (lat, lon) for era, ma_xa, lat, lon in conn.execute(
            "select era, ma_xa, vi_do, kinh_do from dim_admin_unit").fetchall()}
    assert hue.communes and all(centres["reform2025", c["ma_xa"]] == (c["vi_do"], c["kinh_do"]) for c in hue.communes)
    assert any(centres.get(("legacy", c["ma_xa"]), (c["vi_do"], c["kinh_do"])) != (c["vi_do"], c["kinh_do"])
               for c in hue.communes)  # a code both eras use, at two places
