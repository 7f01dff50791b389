"""The progress report's workbook, in the layout offices exchange.

Sheet `ChiSo` (columns `chi_so`, `gia_tri`, then the Vietnamese name, how it is counted and its
reconciliation), then one sheet per table of the page. Numbers are numbers with a display format
(the reader's locale shows 1.234,5); headers are frozen; each sheet prints one page wide. Text is
never run as a formula: xlsxwriter writes strings as strings (`strings_to_formulas=False`), so a
name starting with = + - @ stays text.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from pipelines.publish.progress_data import STOCKS, ProgressData

_FORMATS = {0: "#,##0", 1: "#,##0.0", 4: "0.0000"}


def _decimals(key: str) -> int:
    if key in ("vi_do", "kinh_do"):
        return 4
    return 1 if key.startswith(("ty_le", "binh_quan")) else 0


def _sheet(book, name: str, headers: list[str], rows: list[list], keys: list[str], formats: dict) -> None:
    sheet = book.add_worksheet(name)
    bold = formats["header"]
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, bold)
    widths = [len(h) + 2 for h in headers]
    for r, row in enumerate(rows, start=1):
        for col, value in enumerate(row):
            if value is None:
                sheet.write_blank(r, col, None)
            elif isinstance(value, bool):
                sheet.write_boolean(r, col, value)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, col, value, formats[_decimals(keys[col])])
                widths[col] = max(widths[col], 12)
            else:
                sheet.write_string(r, col, str(value))
                widths[col] = min(max(widths[col], len(str(value)) + 2), 60)
    for col, width in enumerate(widths):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    sheet.repeat_rows(0)
    sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    if rows:
        sheet.autofilter(0, 0, len(rows), len(headers) - 1)


def write_workbook(path: Path, data: ProgressData, stated: dict, labels: dict[str, str],
                   tables: list[tuple[str, list[str], list[dict]]]) -> None:
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})
    try:
        formats = {"header": book.add_format({"bold": True, "bg_color": "#E8F0E8", "text_wrap": True,
                                              "valign": "top", "border": 1})}
        formats.update({d: book.add_format({"num_format": f}) for d, f in _FORMATS.items()})
        metric_rows = []
        for chi_so, value in data.values.items():
            number = stated[chi_so]
            scope = f"tại tháng {data.den}" if chi_so in STOCKS else f"trong kỳ {data.tu}..{data.den}"
            claimed = data.claims.get(chi_so, {}).get("gia_tri_bao_cao")
            metric_rows.append([chi_so, value, labels.get(chi_so, chi_so), scope,
                                {"khop": "khớp", "khong_khop": "không khớp", "chua_co": "chưa có số liệu báo cáo"}[
                                    number.status], claimed])
        _metric_sheet(book, data, metric_rows, formats)
        for name, columns, rows in tables:
            _sheet(book, name, [labels.get(c, c) for c in columns], [[row.get(c) for c in columns] for row in rows],
                   columns, formats)
    finally:
        book.close()


def _metric_sheet(book, data: ProgressData, rows: list[list], formats: dict) -> None:
    """One row per metric; each value keeps its own decimals (counts 0, shares and means 1)."""
    headers = ["chi_so", "gia_tri", "Tên chỉ số", "Cách tính", "Đối chiếu với số báo cáo", "Số báo cáo"]
    sheet = book.add_worksheet("ChiSo")
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, formats["header"])
    for r, row in enumerate(rows, start=1):
        decimals = _decimals(row[0])
        for col, value in enumerate(row):
            if value is None:
                sheet.write_blank(r, col, None)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, col, value, formats[decimals])
            else:
                sheet.write_string(r, col, str(value))
    for col, width in enumerate([28, 14, 34, 26, 24, 12]):
        sheet.set_column(col, col, width)
    sheet.freeze_panes(1, 0)
    sheet.repeat_rows(0)
    sheet.fit_to_pages(1, 0)
    sheet.set_paper(9)
    unit = f"{data.ten_don_vi} ({data.cap} {data.ma_don_vi})".replace("&", "&&")  # & starts a header code
    sheet.set_header(f"&L{unit}&R{data.tu}..{data.den}")
