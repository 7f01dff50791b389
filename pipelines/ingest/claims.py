"""Summary claims (contract §2): a CSV or a workbook sheet `ChiSo` into claim rows with lineage."""

from __future__ import annotations

from pipelines.ingest import normalize as n
from pipelines.ingest.grids import CLAIMS_KIND, Grid, ParsedFile, _read_table
from pipelines.ingest.schema import CLAIMS, claim_value


def _parse_claims(grid: Grid, parsed: ParsedFile) -> None:
    parsed.kind = CLAIMS_KIND
    for line, record in _read_table(grid, CLAIMS.fields, parsed, skip_totals=False):
        values = {k: v for k, (v, _) in record.items()}
        if "gia_tri" in record:  # checked before giving up on the row, so every bad cell is listed
            raw, ref = record["gia_tri"]
            try:
                values["gia_tri"], values["so_chu_so_thap_phan"] = claim_value(raw, values.get("chi_so"))
            except ValueError as error:
                parsed.problem(grid.name, line, ref, "invalid_value", f"Giá trị: {error}")
                continue
            values["gia_tri"] = parsed.take(values["gia_tri"], grid.name, line, ref)
            # as the officer saw it: a workbook number as its format (or General) shows it, text as typed
            values["gia_tri_goc"] = (raw.display if type(raw) is n.Shown else values["gia_tri"]
                                     if isinstance(raw, (int, float)) else n.cell_text(raw))
        if not all(f.key in record for f in CLAIMS.fields if f.required):
            continue
        unit = values.get("ma_don_vi")
        if values["cap"] == "toan_quoc":
            values["ma_don_vi"] = None  # the nation has no code; whatever was typed there names nothing
        elif not unit:
            parsed.problem(grid.name, line, "ma_don_vi", "missing_value",
                           "thiếu mã đơn vị (unit code required unless cap is toan_quoc)")
            continue
        else:
            digits = 2 if values["cap"] == "tinh" else 3
            try:  # a code Excel stored as a number lost its leading zeros: n.code restores them
                values["ma_don_vi"] = n.code(unit, digits)
            except ValueError as error:
                parsed.problem(grid.name, line, record["ma_don_vi"][1], "invalid_value", f"Mã đơn vị: {error}")
                continue
        if values["tu_thang"] > values["den_thang"]:
            parsed.problem(grid.name, line, "tu_thang", "invalid_range",
                           f"từ tháng {values['tu_thang']} sau đến tháng {values['den_thang']} (range reversed)")
            continue
        values.update(claim_id=f"{parsed.sha256[:16]}:{line}", source_sheet=grid.name, source_row=line)
        parsed.rows["claims"].append(values)
    if not parsed.rows["claims"] and not parsed.has_errors:
        parsed.problem(grid.name, None, None, "empty_file", "không có chỉ số nào (no claims in file)")
