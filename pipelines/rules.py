"""The domain rules that SQL and Python both need, read from the dbt seeds that define them.

Each rule lives once, in a seed under `dbt_project/seeds/`: dbt models join the seed, Python reads
it here. Nothing else in the code base may restate these values.

- `admin_eras.csv`: the two unit lists and the reform date (1 July 2025).
- `criteria_sets.csv`: criteria-set codes and their sizes (19, 19, 10).
- `titles.csv`, `title_aliases.csv`: titles, their rank, and the spellings accepted for each.
- `ocop_star_bands.csv`: OCOP score bands per star.

The default criteria-met band edges are dbt's project variable `band_edges` (an operator may
configure others: `NtmSettings.band_edges`); `band_edges()` reads the default from there.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from pipelines.settings import DBT_PROJECT_DIR

SEEDS_DIR = DBT_PROJECT_DIR / "seeds"
LEGACY = "legacy"
REFORM_2025 = "reform2025"


def _seed(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=None)
def admin_eras() -> tuple[dict[str, str], ...]:
    """The unit lists: `era`, `tu_ngay` (first day), `den_ngay` (last day), `mo_ta`."""
    return tuple(_seed("admin_eras"))


@lru_cache(maxsize=None)  # asked for every submission ingested (era_of_month)
def reform_date() -> str:
    """First day of the two-level units, `YYYY-MM-DD`."""
    return next(row["tu_ngay"] for row in admin_eras() if row["era"] == REFORM_2025)


@lru_cache(maxsize=None)
def reform_month() -> str:
    """First month of the two-level units, `YYYY-MM`."""
    return reform_date()[:7]


def era_of_month(month: str) -> str:
    """The unit list in force in a month (`YYYY-MM`, or any text starting with it)."""
    return LEGACY if month[:7] < reform_month() else REFORM_2025


@lru_cache(maxsize=None)
def criteria_set_sizes() -> dict[str, int]:
    """Criteria-set code → number of criteria."""
    return {row["bo_tieu_chi"]: int(row["so_tieu_chi"]) for row in _seed("criteria_sets")}


@lru_cache(maxsize=None)
def title_ranks() -> dict[str, int]:
    """Canonical title → rank (0 not recognised, 1 NTM, ...)."""
    return {row["danh_hieu"]: int(row["bac"]) for row in _seed("titles")}


@lru_cache(maxsize=None)
def title_aliases() -> dict[str, str]:
    """Every accepted spelling of a title → its canonical name."""
    return {row["ten_goi"]: row["danh_hieu"] for row in _seed("title_aliases")}


@lru_cache(maxsize=None)
def ocop_star_bands() -> dict[int, tuple[float, float]]:
    """Stars → [lowest score, score limit) of the band."""
    return {int(row["so_sao"]): (float(row["diem_tu"]), float(row["diem_duoi"])) for row in _seed("ocop_star_bands")}


@lru_cache(maxsize=None)
def criteria_set_of_month(month: str) -> str:
    """The criteria set in force in a month (`YYYY-MM`), by the seed's `ap_dung_tu`/`ap_dung_den`."""
    for row in _seed("criteria_sets"):
        if row["ap_dung_tu"] <= month[:7] <= row["ap_dung_den"]:
            return row["bo_tieu_chi"]
    raise ValueError(f"no criteria set in force in {month}")


@lru_cache(maxsize=None)
def band_edges() -> tuple[int, ...]:
    """Default lower edges of the criteria-met bands below "all criteria" (15-18, 10-14, 5-9, under 5),
    as dbt_project.yml's `band_edges` var states them."""
    import yaml

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text("utf-8"))
    return tuple(project["vars"]["band_edges"])
