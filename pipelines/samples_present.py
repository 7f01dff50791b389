"""The demo's present-day province: Thành phố Huế (2025 code 46), January to September 2026.

Every unit of type Xã of the 2025 province reports monthly under the 2026-2030 set (10
criteria), in one CSV bundle. By September some communes hold `NTM hiện đại` (granted during the
year), others `NTM`, some none; OCOP products, new production models, cooperatives and capital
flow in month by month; one commune skips September, so its August stocks hold. The province's
"9 tháng" headline numbers are computed from these rows by pipelines/truth.py (contract §2).
"""

from __future__ import annotations

import datetime as dt
import random

from pipelines import rules
from pipelines.reference.admin_units import admin_units
from pipelines.samples import Submission, bundle_bytes
from pipelines.truth import FLOWS, Report, Truth, claim_value, month_end, months_between

MA_TINH = "46"
FIRST, LAST = "2026-01", "2026-09"
FILE_NAME = "hue_2026_thang_1_9.zip"
SOURCE = "Huế, sơ kết 9 tháng 2026 (số liệu mô phỏng trên danh sách xã 2025)"
CLAIMED = ["so_xa", "so_xa_co_bao_cao", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_hien_dai",
           "so_xa_dat_19_tc", "binh_quan_tieu_chi", "so_san_pham_ocop", "so_san_pham_ocop_4_sao",
           "so_thon_kieu_mau", "so_mo_hinh_sxkd_moi", "so_htx_moi", "so_xa_khong_co_mo_hinh_moi",
           "von_giai_ngan_trieu_dong", "ty_le_giai_ngan"]
# Titles held in September, by commune (in code order): 3 modern, 10 NTM, the rest none.
END_TITLES = ["NTM hiện đại"] * 3 + ["NTM"] * 10


def _communes() -> list[dict]:
    units = admin_units()
    units = units[(units.era == rules.REFORM_2025) & (units.ma_tinh == MA_TINH) & (units.loai_xa == "Xã")]
    return units.sort_values("ma_xa").to_dict("records")


def present_day_province(rng: random.Random) -> tuple[list[dict], bytes, list[dict]]:
    """(roster rows, the bundle's bytes, the province's claims) for Huế 2026."""
    communes = _communes()
    criteria_set = rules.criteria_set_of_month(FIRST)
    size = rules.criteria_set_sizes()[criteria_set]
    months = months_between(FIRST, LAST)
    roster = [{**u, "ma_huyen": None, "tu_thang": FIRST} for u in communes]
    truth = Truth(units={(u["era"], u["ma_xa"]): (u["ma_tinh"], None) for u in communes}, roster=roster, successor={})
    titles = END_TITLES + ["Chưa đạt"] * (len(communes) - len(END_TITLES))
    rng.shuffle(titles)
    submissions = []
    for index, (unit, title) in enumerate(zip(communes, titles)):
        # Recognised communes meet every criterion, but a few NTM ones lose one in July (a drop the
        # warehouse flags); the others climb to 5-9 over the first months.
        end_met = size if title != "Chưa đạt" else rng.randint(5, size - 1)
        loses = title == "NTM" and index % 5 == 0
        base = rng.randint(8, 25) * 100  # the commune's usual monthly capital plan
        granted = rng.randint(4, 8) if title == "NTM hiện đại" else 0  # month the modern title came
        products = [_product(rng, unit, n, rng.choice([3, 3, 4])) for n in range(1, rng.choice([0, 0, 1, 2]) + 1)]
        hamlets = rng.randint(1, 3) if title != "Chưa đạt" else 0
        recognised = (f"{rng.randint(100, 999)}/QĐ-UBND", f"{rng.randint(2018, 2024)}-12-{rng.randint(10, 28)}")
        modern = (f"{rng.randint(1000, 1999)}/QĐ-UBND", f"2026-{granted:02d}-20")
        for number, month in enumerate(months, start=1):
            if unit["ma_xa"] == communes[-1]["ma_xa"] and month == LAST:
                continue  # this commune's September report never came
            met = end_met - (int(number >= 7) if loses else 0 if title != "Chưa đạt" else max(0, 2 - number // 3))
            held = title if title != "NTM hiện đại" or number >= granted else "NTM"
            decision = modern if held == "NTM hiện đại" else recognised if held != "Chưa đạt" else (None, None)
            listed = [p for p in products if p["ngay_quyet_dinh"] <= month_end(month).isoformat()]
            planned = int(round(base * rng.uniform(0.9, 1.1), -1))
            totals = {
                "so_tieu_chi_dat": met, "danh_hieu": held,
                "so_quyet_dinh_cong_nhan": decision[0], "ngay_cong_nhan": decision[1],
                "so_san_pham_ocop": len(listed), "so_thon_kieu_mau": hamlets,
                **{f"so_san_pham_{s}_sao": sum(p["so_sao"] == s for p in listed) for s in (3, 4, 5)},
                "so_mo_hinh_sxkd_moi": rng.choices([0, 1, 2], weights=[90, 8, 2])[0],
                "so_htx_moi": int(rng.random() < 0.05), "so_tht_moi": int(rng.random() < 0.06),
                "so_dn_moi": int(rng.random() < 0.04),
                "von_ke_hoach_trieu_dong": planned, "von_giai_ngan_trieu_dong": round(planned * rng.uniform(0.55, 0.8)),
                "xi_mang_tan": rng.choice([0, 0, rng.randint(10, 120)]),
            }
            submissions.append(Submission(
                ma_xa=unit["ma_xa"], ten_xa=unit["ten_xa"], ma_tinh=MA_TINH, ky_bao_cao=month,
                bo_tieu_chi=criteria_set, ngay_lap=(month_end(month) - dt.timedelta(days=rng.randint(0, 4))).isoformat(),
                criteria_met=set(rng.sample(range(1, size + 1), met)), totals=totals, ocop=listed,
            ))
            truth.add(Report(era=rules.REFORM_2025, ma_xa=unit["ma_xa"], month=month, n_criteria=size, met=met,
                             title=held, hamlets=hamlets, products=tuple((p["so_sao"], p["ngay_quyet_dinh"]) for p in listed),
                             flows=tuple(totals[f] for f in FLOWS)))
    values = truth.values("tinh", MA_TINH, FIRST, LAST)
    claims = []
    for metric in CLAIMED:
        value = claim_value(*values[metric], metric)
        claims.append(dict(cap="tinh", ma_don_vi=MA_TINH, tu_thang=FIRST, den_thang=LAST, chi_so=metric,
                           gia_tri=value + "%" if metric.startswith("ty_le") else value, nguon=SOURCE))
    return roster, bundle_bytes(submissions), claims


def _product(rng: random.Random, unit: dict, number: int, stars: int) -> dict:
    low = rules.ocop_star_bands()[stars][0]
    decided = f"{rng.choice([2024, 2025, 2026])}-{rng.randint(1, 6):02d}-{rng.randint(1, 28):02d}"
    kind = rng.choice(["Mè xửng", "Nón lá", "Tôm chua", "Trà cung đình", "Mắm ruốc", "Bánh ép", "Dầu tràm"])
    return {
        "ma_san_pham": f"OCOP-{unit['ma_xa']}-{number:02d}",
        "ten_san_pham": f"{kind} {unit['ten_xa'].removeprefix('Xã ')}",
        "nhom_san_pham": {"Nón lá": "Hàng thủ công mỹ nghệ", "Dầu tràm": "Dược liệu và sản phẩm từ dược liệu"}.get(
            kind, "Thực phẩm"),
        "chu_the": f"HTX {unit['ten_xa'].removeprefix('Xã ')}",
        "loai_chu_the": "HTX",
        "diem": rng.randint(int(low), int(low) + 19),
        "so_sao": stars,
        "so_quyet_dinh": f"{rng.randint(100, 999)}/QĐ-UBND",
        "ngay_quyet_dinh": decided,
        "cap_danh_gia": "tỉnh",  # 3★ and 4★ are rated by the province since Decision 1489/2025
    }
