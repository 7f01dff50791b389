"""Synthetic national history for benchmarks and load tests (`ntm generate`).

Communes are real legacy GSO units of type Xã (spread over every province); each sends one monthly
submission. Criteria met rise over time with occasional losses, and a commune moving to the
2021-2025 set in 2022 loses a few criteria to the stricter thresholds; a commune meeting every
criterion is recognised (NTM) within months, later some reach nâng cao / kiểu mẫu; recognised
communes sometimes lose a criterion but keep their title. OCOP products are rated with decision
dates and listed while their certificate is valid (36 months), some re-rated on expiry. Flows
(new models, HTX, THT, DN, capital, cement) are small monthly counts and amounts.

Written as CSV bundles (contract §1b), one per province and month, into `<home>/landing/`, with
the roster in `<home>/reference/roster.csv`. Deterministic for the same arguments.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.samples import Submission, bundle_bytes, write_roster

FIRST_MONTH = "2020-07"  # 60 months end with June 2025, the last month of the legacy era
GROUPS = ["Thực phẩm", "Đồ uống", "Thảo dược", "Vải và may mặc", "Lưu niệm-nội thất-trang trí"]
KINDS = ["Chè", "Gạo", "Mật ong", "Miến dong", "Nấm", "Rượu", "Bánh chưng", "Cam", "Bưởi", "Nước mắm"]
PRODUCER_TYPES = ["HTX", "HTX", "HTX", "THT", "DN", "DN", "Hộ SX"]


@dataclass
class _Commune:
    unit: dict
    met: int
    title: int = 0  # 0 Chưa đạt, 1 NTM, 2 nâng cao, 3 kiểu mẫu
    decision: tuple[str, str] | None = None
    hamlets: int = 0
    products: list[dict] = field(default_factory=list)
    next_product: int = 1


def _months(first: str, count: int) -> list[dt.date]:
    year, month = map(int, first.split("-"))
    out = []
    for _ in range(count):
        out.append(dt.date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def _pick_communes(count: int) -> list[dict]:
    from pipelines.reference.admin_units import admin_units

    units = admin_units()
    units = units[(units.era == "legacy") & (units.loai_xa == "Xã")].sort_values("ma_xa")
    records = units.to_dict("records")
    if count >= len(records):
        return records
    step = len(records) / count  # spread over every province rather than the first ones
    return [records[int(i * step)] for i in range(count)]


def _rate(rng: random.Random, commune: _Commune, decided: dt.date) -> dict:
    stars = rng.choices([3, 4, 5], weights=[62, 35, 3])[0]
    low = {3: 50, 4: 70, 5: 90}[stars]
    number = commune.next_product
    commune.next_product += 1
    ma_xa = commune.unit["ma_xa"]
    producer_type = rng.choice(PRODUCER_TYPES)
    return {
        "ma_san_pham": f"OCOP-{ma_xa}-{number:02d}" if rng.random() < 0.7 else None,
        "ten_san_pham": f"{rng.choice(KINDS)} {commune.unit['ten_xa']} {number}",
        "nhom_san_pham": rng.choice(GROUPS),
        "chu_the": f"{producer_type} {commune.unit['ten_xa']} {rng.randint(1, 3)}",
        "loai_chu_the": producer_type,
        "diem": rng.randint(low, low + 19 if stars < 5 else 100),
        "so_sao": stars,
        "so_quyet_dinh": f"{rng.randint(100, 9999)}/QĐ-UBND",
        "ngay_quyet_dinh": decided.isoformat(),
        "cap_danh_gia": "trung ương" if stars == 5 else "tỉnh" if stars == 4 else "huyện",
    }


def generate_history(home: Path, communes: int = 8000, months: int = 60, first_month: str = FIRST_MONTH,
                     seed: int = 2025) -> dict:
    """Write the roster and one CSV bundle per province and month; returns counts."""
    rng = random.Random(seed)
    landing, reference = home / "landing", home / "reference"
    landing.mkdir(parents=True, exist_ok=True)
    units = _pick_communes(communes)
    write_roster(reference / "roster.csv", units)
    state = []
    for unit in units:
        met = max(3, min(19, round(rng.gauss(15.5, 3))))
        commune = _Commune(unit=unit, met=met)
        if met == 19 and rng.random() < 0.8:
            commune.title = 1
            commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", f"{rng.randint(2014, 2019)}-12-15")
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):  # products rated before the history starts
            commune.products.append(_rate(rng, commune, dt.date(2018 + rng.randint(0, 1), rng.randint(1, 12), 15)))
        state.append(commune)

    n_submissions = 0
    for month in _months(first_month, months):
        month_end = _add_months(month, 1) - dt.timedelta(days=1)
        criteria_set = "2016-2020" if month.year < 2022 else "2021-2025"
        by_province: dict[str, list[Submission]] = defaultdict(list)
        for commune in state:
            if month == dt.date(2022, 1, 1):  # the stricter 2021-2025 set: some criteria fall
                commune.met = max(3, commune.met - rng.choice([0, 0, 1, 2, 3]))
            roll = rng.random()
            if roll < 0.07 and commune.met < 19:
                commune.met += 1
            elif roll > 0.992 and commune.met > 3:
                commune.met -= 1  # losses happen, titled communes included
            if commune.title == 0 and commune.met == 19 and rng.random() < 0.15:
                commune.title = 1
                commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", (month + dt.timedelta(days=14)).isoformat())
            elif criteria_set == "2021-2025" and 1 <= commune.title < 3 and commune.met == 19 and rng.random() < 0.006:
                commune.title += 1
            if commune.title and rng.random() < 0.01:
                commune.hamlets += 1
            if rng.random() < 0.012:
                commune.products.append(_rate(rng, commune, month + dt.timedelta(days=rng.randint(0, 27))))
            valid = []
            for product in commune.products:
                expires = _add_months(dt.date.fromisoformat(product["ngay_quyet_dinh"]), 36)
                if expires > month_end:
                    valid.append(product)
                elif rng.random() < 0.5:  # re-rated on expiry, as a new decision
                    renewed = _rate(rng, commune, month)
                    renewed.update(ma_san_pham=product["ma_san_pham"], ten_san_pham=product["ten_san_pham"],
                                   chu_the=product["chu_the"], loai_chu_the=product["loai_chu_the"])
                    valid.append(renewed)
            commune.products = valid
            listed = [p for p in valid if dt.date.fromisoformat(p["ngay_quyet_dinh"]) <= month_end]
            stars = [p["so_sao"] for p in listed]
            planned = rng.randint(2, 40) * 50
            totals = {
                "so_tieu_chi_dat": commune.met,
                "danh_hieu": ["Chưa đạt", "NTM", "NTM nâng cao", "NTM kiểu mẫu"][commune.title],
                "so_quyet_dinh_cong_nhan": commune.decision[0] if commune.title else None,
                "ngay_cong_nhan": commune.decision[1] if commune.title else None,
                "so_san_pham_ocop": sum(s >= 3 for s in stars),
                "so_san_pham_3_sao": stars.count(3), "so_san_pham_4_sao": stars.count(4),
                "so_san_pham_5_sao": stars.count(5),
                "so_thon_kieu_mau": commune.hamlets,
                "so_mo_hinh_sxkd_moi": rng.choices([0, 1, 2, 3], weights=[75, 18, 5, 2])[0],
                "so_htx_moi": int(rng.random() < 0.03), "so_tht_moi": int(rng.random() < 0.05),
                "so_dn_moi": int(rng.random() < 0.03),
                "von_ke_hoach_trieu_dong": planned,
                "von_giai_ngan_trieu_dong": round(planned * rng.uniform(0.3, 1.0)),
                "xi_mang_tan": rng.choice([0, 0, 0, rng.randint(5, 200)]),
            }
            unit = commune.unit
            by_province[unit["ma_tinh"]].append(Submission(
                ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh=unit["ma_tinh"],
                ky_bao_cao=month.strftime("%Y-%m"), bo_tieu_chi=criteria_set,
                ngay_lap=(month_end - dt.timedelta(days=rng.randint(0, 5))).isoformat(),
                criteria_met=set(rng.sample(range(1, 20), commune.met)), totals=totals, ocop=listed,
            ))
        for ma_tinh, submissions in sorted(by_province.items()):
            (landing / f"bao_cao_{ma_tinh}_{month:%Y_%m}.zip").write_bytes(bundle_bytes(submissions))
            n_submissions += len(submissions)
    return {"communes": len(units), "months": months, "submissions": n_submissions,
            "files": len(list(landing.glob("bao_cao_*.zip")))}
