"""Headline numbers computed from a generator's own truth, following contract §2 to the letter.

An oracle independent of the warehouse: `ntm generate --claims` and the demo state their claims
with it, and the pipeline must reconcile them. Across the 1 July 2025 reform: stocks are those of
`den_thang`'s units; a flow sums, month by month, the communes in scope that month whose unit
lies, through the crosswalk's default link, within the claimed unit; `so_xa_co_bao_cao` and
`so_xa_khong_co_mo_hinh_moi` count `den_thang`'s units, each with its predecessors' reports.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

from pipelines import rules

OCOP_VALID_MONTHS = 36  # an OCOP certificate holds 36 months from its decision (domain.md)
FLOWS = ("so_mo_hinh_sxkd_moi", "so_htx_moi", "so_tht_moi", "so_dn_moi", "von_ke_hoach_trieu_dong",
         "von_giai_ngan_trieu_dong", "xi_mang_tan")
# Decimals a generated claim is written with; every other metric is a whole number.
DECIMALS = {"ty_le_xa_dat_chuan": 1, "binh_quan_tieu_chi": 2, "ty_le_giai_ngan": 1}
HIEN_DAI = "NTM hiện đại"


@dataclass(frozen=True)
class Report:
    """One commune's submission, attributed to its month (`YYYY-MM`)."""
    era: str
    ma_xa: str
    month: str
    n_criteria: int
    met: int
    title: str
    hamlets: int
    products: tuple[tuple[int, str], ...]  # (stars, decision date YYYY-MM-DD) as listed
    flows: tuple[int, ...]  # in the order of FLOWS


@dataclass
class Truth:
    """Units, roster, crosswalk and reports; `values(...)` computes a claim's metrics."""
    units: dict[tuple[str, str], tuple[str, str | None]]  # (era, ma_xa) → (ma_tinh, ma_huyen)
    roster: list[dict]  # rows as written: ma_xa, ma_tinh, ma_huyen, tu_thang, den_thang
    successor: dict[str, str]  # legacy ma_xa → 2025 ma_xa (the crosswalk's default link)
    reports: dict[tuple[str, str], dict[str, Report]] = field(default_factory=lambda: defaultdict(dict))
    _scope: dict[str, list[tuple[str, str]]] = field(default_factory=dict, repr=False)

    def add(self, report: Report) -> None:
        self.reports[(report.era, report.ma_xa)][report.month] = report

    def scope(self, month: str) -> list[tuple[str, str]]:
        """Communes expected to report in `month`: roster rows applying to it, in the month's era."""
        if month not in self._scope:
            era = rules.era_of_month(month)
            self._scope[month] = [
                (era, r["ma_xa"]) for r in self.roster
                if (not r.get("tu_thang") or r["tu_thang"] <= month) and (not r.get("den_thang") or month <= r["den_thang"])]
        return self._scope[month]

    def _in_unit(self, key: tuple[str, str], cap: str, code: str, era: str) -> tuple[str, str] | None:
        """`key`'s unit in `era` when it lies within the claimed unit, else None."""
        if key[0] != era:
            if key[0] != rules.LEGACY or key[1] not in self.successor:
                return None
            key = (era, self.successor[key[1]])
        if key not in self.units:
            return None
        ma_tinh, ma_huyen = self.units[key]
        inside = cap == "toan_quoc" or (cap == "tinh" and ma_tinh == code) or (cap == "huyen" and ma_huyen == code)
        return key if inside else None

    def values(self, cap: str, code: str, tu: str, den: str) -> dict[str, tuple[Fraction, int | None]]:
        """Every metric of contract §2 for one unit and range, as (numerator, denominator or None)."""
        era = rules.era_of_month(den)
        end_units = [k for k in self.scope(den) if self._in_unit(k, cap, code, era)]
        flows = [0] * len(FLOWS)
        reported: set[tuple[str, str]] = set()
        models: dict[tuple[str, str], int] = defaultdict(int)
        for month in months_between(tu, den):
            for key in self.scope(month):
                report = self.reports.get(key, {}).get(month)
                unit = self._in_unit(key, cap, code, era) if report else None
                if unit:
                    flows = [a + b for a, b in zip(flows, report.flows)]
                    reported.add(unit)
                    models[unit] += report.flows[0]
        stocks = [self._stock(k, tu, den) for k in end_units]
        held = [s for s in stocks if s]
        ranks = rules.title_ranks()
        edges = rules.band_edges()
        day = month_end(den)
        stars = [s for r in held for s, decided in r.products if _valid(decided, day)]
        n = len(end_units)

        def banded(low, high=None):
            return sum(low <= r.met < min(high or r.n_criteria, r.n_criteria) for r in held)

        count = {
            "so_xa": n,
            "so_xa_co_bao_cao": sum(k in reported for k in end_units),
            "so_xa_dat_chuan": sum(ranks[r.title] >= 1 for r in held),
            "so_xa_nang_cao": sum(ranks[r.title] >= 2 for r in held),
            "so_xa_kieu_mau": sum(ranks[r.title] >= 3 for r in held),
            "so_xa_hien_dai": sum(r.title == HIEN_DAI for r in held),
            "so_xa_dat_19_tc": sum(r.met == r.n_criteria for r in held),
            "so_xa_15_18_tc": banded(edges[0]),
            "so_xa_10_14_tc": banded(edges[1], edges[0]),
            "so_xa_5_9_tc": banded(edges[2], edges[1]),
            "so_xa_duoi_5_tc": banded(0, edges[2]),
            "so_xa_duoi_10_tc": banded(0, edges[1]),
            "so_san_pham_ocop": len(stars),
            "so_san_pham_ocop_3_sao": stars.count(3),
            "so_san_pham_ocop_4_sao": stars.count(4),
            "so_san_pham_ocop_5_sao": stars.count(5),
            "so_thon_kieu_mau": sum(r.hamlets for r in held),
            "so_xa_khong_co_mo_hinh_moi": sum(models[k] == 0 for k in end_units),
            **dict(zip(FLOWS, flows)),
        }
        out = {k: (Fraction(v), None) for k, v in count.items()}
        out["ty_le_xa_dat_chuan"] = (Fraction(100 * count["so_xa_dat_chuan"]), n)
        out["binh_quan_tieu_chi"] = (Fraction(sum(r.met for r in held)), len(held))
        out["ty_le_giai_ngan"] = (Fraction(100 * count["von_giai_ngan_trieu_dong"]), count["von_ke_hoach_trieu_dong"])
        return out

    def _stock(self, key: tuple[str, str], tu: str, den: str) -> Report | None:
        """The latest report of `key` whose month lies within the range, at or before `den`."""
        by_month = self.reports.get(key, {})
        months = [m for m in by_month if tu <= m <= den]
        return by_month[max(months)] if months else None


def claim_value(numerator: Fraction, denominator: int | None, metric: str) -> str | None:
    """The value as a report writes it: rounded half up to the metric's decimals; None if undefined."""
    if denominator == 0:
        return None
    value = numerator / (denominator or 1)
    places = DECIMALS.get(metric, 0)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return str(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def months_between(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def month_end(month: str) -> dt.date:
    year, number = int(month[:4]), int(month[5:7])
    first_next = dt.date(year + number // 12, number % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _valid(decided: str, day: dt.date) -> bool:
    start = dt.date.fromisoformat(decided)
    index = start.year * 12 + start.month - 1 + OCOP_VALID_MONTHS
    expires = dt.date(index // 12, index % 12 + 1, start.day)  # decision days are at most 28
    return start <= day < expires


def claim_ranges(months: list[str]) -> list[tuple[str, str]]:
    """Each calendar year of the run (clipped to it) and, for a year spanning the reform, its legacy part."""
    reform = rules.reform_month()
    out = []
    for year in range(int(months[0][:4]), int(months[-1][:4]) + 1):
        tu, den = max(months[0], f"{year}-01"), min(months[-1], f"{year}-12")
        out.append((tu, den))
        if tu < reform <= den:
            out.append((tu, months_between(tu, reform)[-2]))
    return out


def generated_claims(truth: Truth, months: list[str], seed: int, planted: int = 0) -> tuple[list[dict], list[dict]]:
    """Claims of every province of each range's `den_thang` era (and of every legacy district), for
    every metric the claims reader knows; `planted` of them are one off (returned as the second list)."""
    from pipelines.ingest.schema import CLAIM_METRICS

    claims = []
    for tu, den in claim_ranges(months):
        era = rules.era_of_month(den)
        provinces = sorted({truth.units[k][0] for k in truth.scope(den) if k in truth.units})
        unit_claims = [("tinh", p) for p in provinces]
        if era == rules.LEGACY:
            unit_claims += [("huyen", d) for d in sorted({truth.units[k][1] for k in truth.scope(den) if k in truth.units})]
        for cap, code in unit_claims:
            values = truth.values(cap, code, tu, den)
            for metric in CLAIM_METRICS:
                value = claim_value(*values[metric], metric)
                if value is not None:
                    claims.append(dict(cap=cap, ma_don_vi=code, tu_thang=tu, den_thang=den, chi_so=metric,
                                       gia_tri=value, nguon="ntm generate"))

    chosen = random.Random(f"{seed}-planted").sample(range(len(claims)), min(planted, len(claims)))
    for index in chosen:  # one off: a count by one, a share or mean by one unit of its last decimal
        value = Decimal(claims[index]["gia_tri"])
        claims[index]["gia_tri"] = str(value + Decimal(1).scaleb(value.as_tuple().exponent))
    return claims, [claims[i] for i in sorted(chosen)]
