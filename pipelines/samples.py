"""Writing submissions and claims files the way communes and districts send them.

Used by `ntm demo` (the tracked sample in `data/samples/` is made by `build_demo_sample`), by the
tests, and by the benchmarks. Output bytes are deterministic for the same input.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import rules
from pipelines.ingest.schema import CLAIMS, CHI_TIEU, CRITERIA_SETS, OCOP, THONG_TIN, TIEU_CHI, TONG_HOP
from pipelines.reference.admin_units import admin_units

_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
TOTALS_KEYS = [f.key for f in TONG_HOP.fields]
OCOP_KEYS = ["ma_san_pham", "ten_san_pham", "nhom_san_pham", "chu_the", "loai_chu_the", "diem", "so_sao",
             "so_quyet_dinh", "ngay_quyet_dinh", "cap_danh_gia"]


@dataclass
class Submission:
    ma_xa: str
    ky_bao_cao: str
    bo_tieu_chi: str
    ngay_lap: str
    criteria_met: set[int]
    ten_xa: str | None = None
    ma_tinh: str | None = None
    nguoi_lap: str | None = "Văn phòng NTM xã"
    totals: dict = field(default_factory=dict)
    ocop: list[dict] = field(default_factory=list)
    sub_indicators: list[dict] = field(default_factory=list)

    @property
    def n_criteria(self) -> int:
        return CRITERIA_SETS[self.bo_tieu_chi]


def _csv_bytes(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


def bundle_bytes(submissions: list[Submission]) -> bytes:
    """A CSV bundle (contract §1b) holding any number of submissions."""
    keys = ["ma_xa", "ky_bao_cao"]
    files = {
        "thong_tin.csv": _csv_bytes(
            keys + ["ten_xa", "ma_tinh", "bo_tieu_chi", "ngay_lap", "nguoi_lap", "phien_ban_mau"],
            [[s.ma_xa, s.ky_bao_cao, s.ten_xa, s.ma_tinh, s.bo_tieu_chi, s.ngay_lap, s.nguoi_lap, 1]
             for s in submissions]),
        "tieu_chi.csv": _csv_bytes(
            keys + ["tieu_chi", "trang_thai"],
            [[s.ma_xa, s.ky_bao_cao, i, "Đạt" if i in s.criteria_met else "Chưa đạt"]
             for s in submissions for i in range(1, s.n_criteria + 1)]),
        "chi_tieu.csv": _csv_bytes(
            keys + ["ma_chi_tieu", "gia_tri", "don_vi"],
            [[s.ma_xa, s.ky_bao_cao, v["ma_chi_tieu"], v["gia_tri"], v.get("don_vi")]
             for s in submissions for v in s.sub_indicators]),
        "ocop.csv": _csv_bytes(
            keys + OCOP_KEYS,
            [[s.ma_xa, s.ky_bao_cao] + [p.get(k) for k in OCOP_KEYS] for s in submissions for p in s.ocop]),
        "tong_hop.csv": _csv_bytes(
            keys + TOTALS_KEYS,
            [[s.ma_xa, s.ky_bao_cao] + [s.totals.get(k) for k in TOTALS_KEYS] for s in submissions]),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_DATE), data)
    return buffer.getvalue()


def _header(table_fields, labels: bool) -> list[str]:
    return [f.label if labels else f.key for f in table_fields]


def _workbook(buffer: io.BytesIO):
    import xlsxwriter  # only the writers need it

    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": dt.datetime(2020, 1, 1)})  # same input, same bytes
    return workbook


def _write_rows(sheet, rows: list[list], date_format) -> None:
    """Cells as an officer's Excel holds them: numbers as numbers, ISO dates as real dates."""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool):
                sheet.write_string(r, c, str(value))
            elif isinstance(value, (int, float)):
                sheet.write_number(r, c, value)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_format)
            else:
                sheet.write_string(r, c, str(value))


def workbook_bytes(submission: Submission, labels: bool = False, ma_xa_as_number: bool = False,
                   dates_as_cells: bool = True) -> bytes:
    """A submission as the Excel template (contract §1a): sheets ThongTin, TieuChi, ChiTieu, OCOP, TongHop.

    `labels` writes Vietnamese labels instead of canonical keys in every header; `ma_xa_as_number`
    stores the commune code as a number, as Excel does when an officer types it (its leading zero is lost).
    """
    s = submission
    info_labels = {f.key: (f.label if labels else f.key) for f in THONG_TIN.fields}
    ngay_lap = dt.date.fromisoformat(s.ngay_lap) if dates_as_cells else s.ngay_lap
    info = [
        ("ma_xa", int(s.ma_xa) if ma_xa_as_number else s.ma_xa), ("ten_xa", s.ten_xa),
        ("ma_tinh", s.ma_tinh), ("ky_bao_cao", s.ky_bao_cao), ("bo_tieu_chi", s.bo_tieu_chi),
        ("ngay_lap", ngay_lap), ("nguoi_lap", s.nguoi_lap), ("phien_ban_mau", 1),
    ]
    kv_header = ["Trường", "Giá trị"] if labels else ["truong", "gia_tri"]
    ocop_rows = []
    for product in s.ocop:
        row = [product.get(k) for k in OCOP_KEYS]
        decision = product.get("ngay_quyet_dinh")
        if dates_as_cells and isinstance(decision, str) and len(decision) == 10 and decision[4] == "-":
            row[OCOP_KEYS.index("ngay_quyet_dinh")] = dt.date.fromisoformat(decision)
        ocop_rows.append(row)
    sheets = {
        THONG_TIN.sheet: [kv_header] + [[info_labels[k], v] for k, v in info],
        TIEU_CHI.sheet: [_header(TIEU_CHI.fields, labels)] + [
            [i, "Đạt" if i in s.criteria_met else "Chưa đạt", None] for i in range(1, s.n_criteria + 1)],
        CHI_TIEU.sheet: [_header(CHI_TIEU.fields, labels)] + [
            [v["ma_chi_tieu"], v["gia_tri"], v.get("don_vi")] for v in s.sub_indicators],
        OCOP.sheet: [[OCOP.field(k).label if labels else k for k in OCOP_KEYS]] + ocop_rows,
        TONG_HOP.sheet: [kv_header] + [
            [TONG_HOP.field(k).label if labels else k, s.totals[k]] for k in TOTALS_KEYS
            if s.totals.get(k) is not None],
    }
    buffer = io.BytesIO()
    workbook = _workbook(buffer)
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    for name, rows in sheets.items():
        _write_rows(workbook.add_worksheet(name), rows, date_format)
    workbook.close()
    return buffer.getvalue()


def claims_workbook_bytes(claims: list[dict], labels: bool = False) -> bytes:
    """Claims as a workbook with a sheet `ChiSo` (contract §2)."""
    header = ["cap", "ma_don_vi", "tu_thang", "den_thang", "chi_so", "gia_tri", "nguon"]
    buffer = io.BytesIO()
    workbook = _workbook(buffer)
    rows = [[CLAIMS.field(k).label if labels else k for k in header]] + [[c.get(k) for k in header] for c in claims]
    _write_rows(workbook.add_worksheet(CLAIMS.sheet), rows, workbook.add_format({"num_format": "dd/mm/yyyy"}))
    workbook.close()
    return buffer.getvalue()


def claims_bytes(claims: list[dict]) -> bytes:
    header = ["cap", "ma_don_vi", "tu_thang", "den_thang", "chi_so", "gia_tri", "nguon"]
    return _csv_bytes(header, [[c.get(k) for k in header] for c in claims])


def write_roster(path: Path, rows: list[dict]) -> None:
    header = ["ma_xa", "ten_xa", "ma_huyen", "ma_tinh", "tu_thang", "den_thang"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_csv_bytes(header, [[r.get(k) for k in header] for r in rows]))


def _legacy_communes(where) -> list[dict]:
    units = admin_units()
    units = units[(units.era == "legacy") & (units.loai_xa == "Xã")]
    return units[where(units)].sort_values("ma_xa").to_dict("records")


def _ocop_product(rng: random.Random, ma_xa: str, number: int, stars: int, decision_date: str) -> dict:
    low = {3: 50, 4: 70, 5: 90}[stars]
    kinds = ["Chè", "Gạo", "Mật ong", "Miến dong", "Nấm", "Rượu", "Bánh chưng", "Cam"]
    return {
        "ma_san_pham": f"OCOP-{ma_xa}-{number:02d}",
        "ten_san_pham": f"{rng.choice(kinds)} {ma_xa}-{number}",
        "nhom_san_pham": "Thực phẩm",
        "chu_the": f"HTX {ma_xa}",
        "loai_chu_the": "HTX",
        "diem": rng.randint(low, low + 19 if stars < 5 else 100),
        "so_sao": stars,
        "so_quyet_dinh": f"{rng.randint(100, 999)}/QĐ-UBND",
        "ngay_quyet_dinh": decision_date,
        "cap_danh_gia": "tỉnh" if stars >= 4 else "huyện",
    }


def build_demo_sample(target: Path) -> list[Path]:
    """The demo: the two seed reports' numbers, on today's roster of the two areas, and a
    present-day province (Huế, 2026, pipelines/samples_present.py).

    Thái Nguyên, first half of 2020 (one CSV bundle of half-year submissions): the report's
    143 communes are 121 in today's reference, so 87 recognised (72%), 11 at 15-18 criteria,
    23 at 10-14, none below 10, 25 OCOP products, 23 model hamlets.
    Can Lộc (Hà Tĩnh), January to July 2017 (monthly submissions): 15 communes today,
    23 new production/business models, 7 communes with none.
    Huế, January to September 2026 (monthly, 2026-2030 set): its 19 communes, some `NTM hiện đại`.
    """
    from pipelines.samples_present import FILE_NAME as HUE_FILE, present_day_province

    rng = random.Random(2020)
    landing, reference = target / "landing", target / "reference"
    landing.mkdir(parents=True, exist_ok=True)
    thai_nguyen = _legacy_communes(lambda u: u.ma_tinh == "19")
    can_loc = _legacy_communes(lambda u: u.ma_huyen == "443")
    # Legacy units are expected until the reform; Huế's 2025 communes from 2026 (contract §3).
    last_legacy = (dt.date.fromisoformat(rules.reform_date()) - dt.timedelta(days=1)).strftime("%Y-%m")
    hue_roster, hue_bundle, hue_claims = present_day_province(random.Random(2026))
    write_roster(reference / "roster.csv", [{**u, "den_thang": last_legacy} for u in thai_nguyen + can_loc] + hue_roster)

    # Thái Nguyên 2020-H1: 87 titled with all 19, 11 at 15-18, 23 at 10-14.
    criteria = [19] * 87 + [rng.randint(15, 18) for _ in range(11)] + [rng.randint(10, 14) for _ in range(23)]
    rng.shuffle(criteria)
    ocop_left = {3: 18, 4: 7}
    hamlets_left = 23
    submissions = []
    for unit, met in zip(thai_nguyen, criteria):
        titled = met == 19
        totals = {
            "so_tieu_chi_dat": met,
            "danh_hieu": "NTM" if titled else "Chưa đạt",
            "so_quyet_dinh_cong_nhan": f"{rng.randint(1000, 3999)}/QĐ-UBND" if titled else None,
            "ngay_cong_nhan": f"{rng.randint(2014, 2019)}-12-{rng.randint(10, 28)}" if titled else None,
            "so_mo_hinh_sxkd_moi": rng.choice([0, 0, 1, 2]),
            "so_htx_moi": rng.choice([0, 0, 1]),
            "so_tht_moi": rng.choice([0, 1]),
            "so_dn_moi": 0,
            "von_ke_hoach_trieu_dong": rng.randint(8, 40) * 100,
            "xi_mang_tan": rng.randint(0, 300),
        }
        totals["von_giai_ngan_trieu_dong"] = round(totals["von_ke_hoach_trieu_dong"] * rng.uniform(0.2, 0.8))
        products = []
        for stars in (3, 4):
            if ocop_left[stars] and titled and rng.random() < 0.35:
                ocop_left[stars] -= 1
                products.append(_ocop_product(rng, unit["ma_xa"], len(products) + 1, stars, "2019-11-20"))
        totals["so_san_pham_ocop"] = len(products)
        for stars in (3, 4, 5):
            totals[f"so_san_pham_{stars}_sao"] = sum(p["so_sao"] == stars for p in products)
        hamlets = 1 if hamlets_left and titled and rng.random() < 0.3 else 0
        hamlets_left -= hamlets
        totals["so_thon_kieu_mau"] = hamlets
        submissions.append(Submission(
            ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh="19", ky_bao_cao="2020-H1",
            bo_tieu_chi="2016-2020", ngay_lap=f"2020-06-{rng.randint(15, 25)}",
            criteria_met=set(rng.sample(range(1, 20), met)), totals=totals, ocop=products,
        ))
    # Whatever the draw left over goes to the first titled communes, so the totals are exact.
    titled_subs = [s for s in submissions if s.totals["danh_hieu"] == "NTM"]
    for stars, left in ocop_left.items():
        for index in range(left):
            sub = titled_subs[index]
            sub.ocop.append(_ocop_product(rng, sub.ma_xa, len(sub.ocop) + 1, stars, "2019-11-20"))
            sub.totals["so_san_pham_ocop"] += 1
            sub.totals[f"so_san_pham_{stars}_sao"] += 1
    for sub in titled_subs[-hamlets_left:] if hamlets_left else []:
        sub.totals["so_thon_kieu_mau"] += 1
    (landing / "thai_nguyen_2020_h1.zip").write_bytes(bundle_bytes(submissions))

    # Can Lộc 2017-01..07: 23 new models in 8 of 15 communes, monthly submissions.
    with_models = rng.sample(range(len(can_loc)), 8)
    models = {i: 1 for i in with_models}
    for _ in range(23 - 8):
        models[rng.choice(with_models)] += 1
    monthly = []
    for index, unit in enumerate(can_loc):
        months_with_model = sorted(rng.choices(range(1, 8), k=models.get(index, 0)))
        met = rng.randint(8, 15)
        for month in range(1, 8):
            met = min(19, met + (rng.random() < 0.15))
            monthly.append(Submission(
                ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh="42", ky_bao_cao=f"2017-{month:02d}",
                bo_tieu_chi="2016-2020", ngay_lap=f"2017-{month:02d}-25",
                criteria_met=set(range(1, met + 1)),
                totals={"so_tieu_chi_dat": met, "danh_hieu": "Chưa đạt", "so_san_pham_ocop": 0,
                        "so_san_pham_3_sao": 0, "so_san_pham_4_sao": 0, "so_san_pham_5_sao": 0,
                        "so_thon_kieu_mau": 0, "so_mo_hinh_sxkd_moi": months_with_model.count(month),
                        "so_htx_moi": 0, "so_tht_moi": 0, "so_dn_moi": 0},
            ))
    (landing / "can_loc_2017_thang_1_7.zip").write_bytes(bundle_bytes(monthly))

    source_tn = "thainguyen.gov.vn 26-06-2020, trên danh sách xã hiện hành"
    source_cl = "Can Lộc, sơ kết 7 tháng 2017, trên danh sách xã hiện hành"
    claims = [
        dict(cap="tinh", ma_don_vi="19", tu_thang="2020-01", den_thang="2020-06", chi_so=k, gia_tri=v,
             nguon=source_tn)
        for k, v in [("so_xa", 121), ("so_xa_dat_chuan", 87), ("ty_le_xa_dat_chuan", "72%"),
                     ("so_xa_15_18_tc", 11), ("so_xa_10_14_tc", 23), ("so_xa_duoi_10_tc", 0),
                     ("so_san_pham_ocop", 25), ("so_thon_kieu_mau", 23)]
    ] + [
        dict(cap="huyen", ma_don_vi="443", tu_thang="2017-01", den_thang="2017-07", chi_so=k, gia_tri=v,
             nguon=source_cl)
        for k, v in [("so_xa", 15), ("so_xa_co_bao_cao", 15), ("so_mo_hinh_sxkd_moi", 23),
                     ("so_xa_khong_co_mo_hinh_moi", 7)]
    ] + hue_claims
    (landing / HUE_FILE).write_bytes(hue_bundle)
    (landing / "chi_so_bao_cao.csv").write_bytes(claims_bytes(claims))
    return sorted(landing.iterdir())


if __name__ == "__main__":
    import sys

    for written in build_demo_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "data/samples")):
        print(written)
