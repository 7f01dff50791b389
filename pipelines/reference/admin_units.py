"""GSO administrative units of both eras and the 2025 crosswalk, from `vietnamadminunits`.

Era `legacy`: the three-level list in force until 30 June 2025 (province, district, commune).
Era `reform2025`: the two-level list from 1 July 2025 (province, commune). A code alone is
ambiguous across the reform (new units reuse old codes), so units are keyed by (era, code).
"""

from __future__ import annotations

import json
from importlib import metadata, resources

import pandas as pd

from pipelines import rules
from pipelines.ingest.normalize import commune_name_key


def query(sql: str) -> list[dict]:
    # Imported here: the package loads its address parser on import (~0.5 s), needed only on reload.
    from vietnamadminunits.database import query as package_query

    return package_query(sql)

LEGACY, REFORM_2025 = rules.LEGACY, rules.REFORM_2025

UNIT_COLUMNS = [
    "era", "ma_xa", "ten_xa", "loai_xa", "ma_huyen", "ten_huyen", "loai_huyen",
    "ma_tinh", "ten_tinh", "valid_from", "valid_to", "name_key", "vi_do", "kinh_do",
]


def package_version() -> str:
    return metadata.version("vietnamadminunits")


def admin_units() -> pd.DataFrame:
    """One row per commune-level unit and era."""
    legacy = pd.DataFrame(query(
        "select wardCode as ma_xa, ward as ten_xa, wardType as loai_xa,"
        " districtCode as ma_huyen, district as ten_huyen, districtType as loai_huyen,"
        " provinceCode as ma_tinh, province as ten_tinh, wardLat as vi_do, wardLon as kinh_do"
        " from admin_units_legacy where wardCode is not null"
    ))
    eras = {row["era"]: row for row in rules.admin_eras()}
    legacy["era"], legacy["valid_from"], legacy["valid_to"] = LEGACY, None, eras[LEGACY]["den_ngay"]
    current = pd.DataFrame(query(
        "select wardCode as ma_xa, ward as ten_xa, wardType as loai_xa,"
        " provinceCode as ma_tinh, province as ten_tinh, wardLat as vi_do, wardLon as kinh_do"
        " from admin_units"
    ))
    current["era"], current["valid_from"], current["valid_to"] = REFORM_2025, eras[REFORM_2025]["tu_ngay"], None
    for column in ("ma_huyen", "ten_huyen", "loai_huyen"):
        current[column] = None
    units = pd.concat([legacy, current], ignore_index=True)
    # Our own fold, not the package's wardShortKey, which keeps diacritics or adds suffixes for some units.
    units["name_key"] = units["ten_xa"].map(commune_name_key)
    units = units[UNIT_COLUMNS]
    # The package lists a handful of legacy communes twice (same code, same unit): keep one.
    return units.drop_duplicates(subset=["era", "ma_xa"], keep="first").reset_index(drop=True)


def crosswalk() -> pd.DataFrame:
    """Legacy commune → 2025 commune. A divided commune maps to several; `is_default` marks the
    one the package assigns when nothing else is known, so that roll-ups count each old unit once."""
    data = json.loads(resources.files("vietnamadminunits").joinpath("data/converter_2025.json").read_text("utf-8"))
    legacy = pd.DataFrame(query(
        "select provinceKey || '_' || districtKey || '_' || wardKey as old_key, wardCode as ma_xa_cu"
        " from admin_units_legacy where wardCode is not null"
    ))
    current = pd.DataFrame(query(
        "select provinceKey as province_key, wardKey as ward_key, wardCode as ma_xa_moi,"
        " provinceCode as ma_tinh_moi from admin_units"
    ))
    rows = []
    for province_key, wards in data["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward_key, old_keys in wards.items():
            rows += [(old_key, province_key, new_ward_key, True, False) for old_key in old_keys]
    for province_key, old_wards in data["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in old_wards.items():
            rows += [
                (old_key, province_key, t["newWardKey"], bool(t["isDefaultNewWard"]), True)
                for t in targets
            ]
    links = pd.DataFrame(rows, columns=["old_key", "province_key", "ward_key", "is_default", "is_divided"])
    merged = links.merge(legacy, on="old_key").merge(current, on=["province_key", "ward_key"])
    merged = merged[["ma_xa_cu", "ma_xa_moi", "ma_tinh_moi", "is_default", "is_divided"]]
    return merged.drop_duplicates(subset=["ma_xa_cu", "ma_xa_moi"]).reset_index(drop=True)
