"""Synthetic history for benchmarks, load tests and cross-reform checks (`ntm generate`).

Communes are real GSO units of type Xã; each sends one monthly submission (a share may skip a
month: `missing_rate`). Criteria met rise over time with occasional losses; a commune moving to a
stricter criteria set (2021-2025 in 2022, the 10 criteria of 2026-2030 in 2026) loses a few; a
commune meeting every criterion is recognised (NTM) within months, later some reach nâng cao /
kiểu mẫu, and from 2026 `NTM hiện đại`. OCOP products are rated with decision dates and listed
while their certificate is valid, some re-rated on expiry. Flows (new models, HTX, THT, DN,
capital, cement) are small monthly counts and amounts.

Across the reform of 1 July 2025 the legacy communes (three levels, district codes) become the
2025 units their crosswalk default link names (two levels, codes mostly reused for a different
commune, no `ma_huyen`): a merged commune starts from its predecessors' state (the criteria and
title of the one whose code it keeps, all their hamlets and products). A history starting after
2020 gets a head start (criteria gained and titles granted in the years before). The roster has
one row per era with `tu_thang` / `den_thang`. `provinces` (2025 codes) restricts the run to those
provinces: a province that absorbed another then reports both legacy provinces before July 2025.

Written as CSV bundles (contract §1b), one per province and month, into `<home>/landing/`, with
the roster in `<home>/reference/roster.csv`; with `claims`, the headline numbers of every
province (and legacy district) for each year of the run (and the legacy half of 2025), computed
from the generator's own truth (pipelines/truth.py), in `landing/chi_so_tong_hop.csv`.
Deterministic for the same arguments.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import rules
from pipelines.samples import Submission, bundle_bytes, claims_bytes, write_roster
from pipelines.truth import FLOWS, OCOP_VALID_MONTHS, Report, Truth, generated_claims

FIRST_MONTH = "2020-07"  # 60 months end with June 2025, the last month of the legacy era
GROUPS = ["Thực phẩm", "Đồ uống", "Thảo dược", "Vải và may mặc", "Lưu niệm-nội thất-trang trí"]
KINDS = ["Chè", "Gạo", "Mật ong", "Miến dong", "Nấm", "Rượu", "Bánh chưng", "Cam", "Bưởi", "Nước mắm"]
PRODUCER_TYPES = ["HTX", "HTX", "HTX", "THT", "DN", "DN", "Hộ SX"]
TITLES = ["Chưa đạt", "NTM", "NTM nâng cao", "NTM kiểu mẫu", "NTM hiện đại"]
HIEN_DAI = TITLES.index("NTM hiện đại")
CLAIMS_FILE = "chi_so_tong_hop.csv"


@dataclass
class _Commune:
    unit: dict
    met: int
    title: int = 0  # index into TITLES
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


def _pick_communes(units, count: int) -> list[dict]:
    units = units[(units.era == rules.LEGACY) & (units.loai_xa == "Xã")].sort_values("ma_xa")
    records = units.to_dict("records")
    if count >= len(records):
        return records
    step = len(records) / count  # spread over every province rather than the first ones
    return [records[int(i * step)] for i in range(count)]


def _pick_in_provinces(units, successor: dict[str, str], provinces: list[str], count: int, seed: int) -> list[dict]:
    """Whole 2025 communes of `provinces` (all their legacy Xã predecessors), taken in turn from each
    province in a seeded order until `count` legacy communes are picked."""
    legacy = units[(units.era == rules.LEGACY) & (units.loai_xa == "Xã")].sort_values("ma_xa").to_dict("records")
    predecessors = defaultdict(list)
    for unit in legacy:
        if unit["ma_xa"] in successor:
            predecessors[successor[unit["ma_xa"]]].append(unit)
    current = units[(units.era == rules.REFORM_2025) & units.ma_tinh.isin(provinces)].sort_values("ma_xa")
    queues = []
    for province in provinces:
        codes = [c for c in current[current.ma_tinh == province].ma_xa if predecessors[c]]
        random.Random(f"{seed}-{province}").shuffle(codes)
        queues.append(codes)
    picked: list[dict] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked += predecessors[queue.pop(0)]
    return sorted(picked, key=lambda u: u["ma_xa"])


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


def _merge(unit: dict, predecessors: list[_Commune]) -> _Commune:
    """A 2025 commune as its legacy predecessors left it: the criteria and title of the one whose
    code it keeps (else the highest titled), their hamlets and products (renamed where two
    predecessors used the same name, so each stays distinct)."""
    lead = next((c for c in predecessors if c.unit["ma_xa"] == unit["ma_xa"]),
                max(predecessors, key=lambda c: (c.title, c.met)))
    merged = _Commune(unit=unit, met=lead.met, title=lead.title, decision=lead.decision,
                      hamlets=sum(c.hamlets for c in predecessors),
                      next_product=sum(c.next_product for c in predecessors))  # above every predecessor's number
    names = set()
    for old in predecessors:
        for product in old.products:
            if (product["ten_san_pham"], product["chu_the"]) in names:
                product = {**product, "ten_san_pham": f"{product['ten_san_pham']} ({old.unit['ma_xa']})"}
            names.add((product["ten_san_pham"], product["chu_the"]))
            merged.products.append(product)
    return merged


def _head_start(state: list[_Commune], first_month: str, seed: int) -> None:
    """Progress made before a history that starts after 2020: criteria gained, titles granted.
    Its own random stream, so a history from 2020 (the default) stays as it was."""
    rng = random.Random(f"{seed}-head-start")
    for year in range(2021, int(first_month[:4]) + 1):
        for commune in state:
            commune.met = min(19, commune.met + rng.choice([0, 1, 1, 2]))
            if commune.met == 19 and commune.title == 0 and rng.random() < 0.7:
                commune.title = 1
                commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", f"{year - 1}-12-{rng.randint(10, 28)}")
            elif year >= 2023 and 1 <= commune.title < 3 and rng.random() < 0.08:
                commune.title += 1


def _reform_units(units, picked: list[dict], successor: dict[str, str]) -> list[dict]:
    targets = {successor[u["ma_xa"]] for u in picked if u["ma_xa"] in successor}
    current = units[(units.era == rules.REFORM_2025) & units.ma_xa.isin(targets)].sort_values("ma_xa")
    return current.to_dict("records")


def generate_history(home: Path, communes: int = 8000, months: int = 60, first_month: str = FIRST_MONTH,
                     seed: int = 2025, provinces: list[str] | None = None, claims: bool = False,
                     planted_mismatch: int = 0, missing_rate: float = 0.0, silent: int = 0) -> dict:
    """Write the roster and one CSV bundle per province and month (and claims); returns counts.

    `silent` 2025 communes send nothing from the reform to the end of 2025 (their predecessors
    reported before it, which a range over the year counts for them: contract §2)."""
    from pipelines.reference.admin_units import admin_units, crosswalk

    rng = random.Random(seed)
    skips = random.Random(f"{seed}-missing")  # apart from `rng`, so the default history stays as it was
    landing, reference = home / "landing", home / "reference"
    landing.mkdir(parents=True, exist_ok=True)
    month_list = _months(first_month, months)
    reform = rules.reform_month()
    crosses = month_list[-1].strftime("%Y-%m") >= reform
    units = admin_units()
    successor = {}
    if crosses or provinces:
        links = crosswalk()
        links = links[links.is_default]
        successor = dict(zip(links.ma_xa_cu, links.ma_xa_moi))
    picked = _pick_in_provinces(units, successor, provinces, communes, seed) if provinces else _pick_communes(units, communes)
    current_units = _reform_units(units, picked, successor) if crosses else []
    quiet = {u["ma_xa"] for u in random.Random(f"{seed}-silent").sample(current_units, min(silent, len(current_units)))}
    last_legacy = (dt.date.fromisoformat(rules.reform_date()) - dt.timedelta(days=1)).strftime("%Y-%m")
    has_legacy = month_list[0].strftime("%Y-%m") < reform
    roster = [{**u, "den_thang": last_legacy if crosses else None} for u in picked] if has_legacy else []
    roster += [{**u, "ma_huyen": None, "tu_thang": reform} for u in current_units]
    write_roster(reference / "roster.csv", roster)
    truth = Truth(units={(u["era"], u["ma_xa"]): (u["ma_tinh"], u["ma_huyen"]) for u in picked + current_units},
                  roster=roster, successor=successor) if claims else None

    state = []
    for unit in picked:
        met = max(3, min(19, round(rng.gauss(15.5, 3))))
        commune = _Commune(unit=unit, met=met)
        if met == 19 and rng.random() < 0.8:
            commune.title = 1
            commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", f"{rng.randint(2014, 2019)}-12-15")
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):  # products rated before the history starts
            commune.products.append(_rate(rng, commune, dt.date(2018 + rng.randint(0, 1), rng.randint(1, 12), 15)))
        state.append(commune)
    _head_start(state, first_month, seed)

    n_submissions = 0
    criteria_set = None
    for month in month_list:
        key = month.strftime("%Y-%m")
        era = rules.era_of_month(key)
        if era == rules.REFORM_2025 and state and state[0].unit["era"] == rules.LEGACY:
            by_target = defaultdict(list)
            for commune in state:
                if commune.unit["ma_xa"] in successor:
                    by_target[successor[commune.unit["ma_xa"]]].append(commune)
            state = [_merge(unit, by_target[unit["ma_xa"]]) for unit in current_units]
        month_end = _add_months(month, 1) - dt.timedelta(days=1)
        previous_set, criteria_set = criteria_set, rules.criteria_set_of_month(key)
        n = rules.criteria_set_sizes()[criteria_set]
        by_province: dict[str, list[Submission]] = defaultdict(list)
        for commune in state:
            if previous_set and criteria_set != previous_set:  # a stricter set: some criteria fall
                if n == 19:
                    commune.met = max(3, commune.met - rng.choice([0, 0, 1, 2, 3]))
                else:
                    commune.met = max(3, min(n, round(commune.met * n / 19) - rng.choice([0, 0, 1, 1, 2])))
            roll = rng.random()
            if roll < 0.07 and commune.met < n:
                commune.met += 1
            elif roll > 0.992 and commune.met > 3:
                commune.met -= 1  # losses happen, titled communes included
            if commune.title == 0 and commune.met == n and rng.random() < 0.15:
                commune.title = 1
                commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", (month + dt.timedelta(days=14)).isoformat())
            elif criteria_set == "2021-2025" and 1 <= commune.title < 3 and commune.met == n and rng.random() < 0.006:
                commune.title += 1
            elif criteria_set == "2026-2030" and commune.title == 1 and commune.met == n and rng.random() < 0.08:
                commune.title = HIEN_DAI
                commune.decision = (f"{rng.randint(100, 9999)}/QĐ-UBND", (month + dt.timedelta(days=20)).isoformat())
            if commune.title and rng.random() < 0.01:
                commune.hamlets += 1
            if rng.random() < 0.012:
                commune.products.append(_rate(rng, commune, month + dt.timedelta(days=rng.randint(0, 27))))
            valid = []
            for product in commune.products:
                expires = _add_months(dt.date.fromisoformat(product["ngay_quyet_dinh"]), OCOP_VALID_MONTHS)
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
                "danh_hieu": TITLES[commune.title],
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
            submission = Submission(
                ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh=unit["ma_tinh"],
                ky_bao_cao=key, bo_tieu_chi=criteria_set,
                ngay_lap=(month_end - dt.timedelta(days=rng.randint(0, 5))).isoformat(),
                criteria_met=set(rng.sample(range(1, n + 1), commune.met)), totals=totals, ocop=listed,
            )
            if missing_rate and skips.random() < missing_rate:
                continue  # this month's report never came
            if era == rules.REFORM_2025 and unit["ma_xa"] in quiet and key[:4] == reform[:4]:
                continue
            by_province[unit["ma_tinh"]].append(submission)
            if truth:
                truth.add(Report(era=era, ma_xa=unit["ma_xa"], month=key, n_criteria=n, met=commune.met,
                                 title=totals["danh_hieu"], hamlets=commune.hamlets,
                                 products=tuple((p["so_sao"], p["ngay_quyet_dinh"]) for p in listed),
                                 flows=tuple(totals[f] for f in FLOWS)))
        for ma_tinh, submissions in sorted(by_province.items()):
            (landing / f"bao_cao_{ma_tinh}_{month:%Y_%m}.zip").write_bytes(bundle_bytes(submissions))
            n_submissions += len(submissions)
    counts = {"communes": len(picked), "communes_2025": len(current_units), "silent": sorted(quiet), "months": months,
              "submissions": n_submissions, "files": len(list(landing.glob("bao_cao_*.zip")))}
    if truth:
        stated, planted = generated_claims(truth, [m.strftime("%Y-%m") for m in month_list], seed, planted_mismatch)
        (landing / CLAIMS_FILE).write_bytes(claims_bytes(stated))
        counts.update(claims=len(stated), planted=planted)
    return counts
