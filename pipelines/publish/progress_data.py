"""What a progress report states, read from the published warehouse only (contract §6).

Stocks are those of `mart_unit_month` at `den` (units of den's era). Flows are the unit's monthly
flows summed over the range; a 2025 province whose range starts before the July 2025 reform takes
its earlier months from `mart_province_month_2025` (legacy communes rolled onto it). The two counts
over the range that are not sums of months (communes that reported, communes with no new model) are
counted from `fct_commune_month`, over the communes in scope at `den`, a legacy commune's months
counting for the 2025 commune it became (`dim_admin_unit.ma_xa_2025`).

Columns are read by name from `select *`, so a metric a mart does not (yet) carry, such as
`so_xa_hien_dai`, is reported as missing rather than failing the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import duckdb

from pipelines import rules

CAPS = ("huyen", "tinh", "toan_quoc")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

STOCKS = [
    "so_xa", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao", "so_xa_kieu_mau", "so_xa_hien_dai",
    "so_xa_dat_19_tc", "so_xa_15_18_tc", "so_xa_10_14_tc", "so_xa_5_9_tc", "so_xa_duoi_5_tc", "so_xa_duoi_10_tc",
    "binh_quan_tieu_chi", "so_san_pham_ocop", "so_san_pham_ocop_3_sao", "so_san_pham_ocop_4_sao",
    "so_san_pham_ocop_5_sao", "so_thon_kieu_mau",
]
FLOWS = ["so_mo_hinh_sxkd_moi", "so_htx_moi", "so_tht_moi", "so_dn_moi", "von_ke_hoach_trieu_dong",
         "von_giai_ngan_trieu_dong", "xi_mang_tan"]
RANGE_COUNTS = ["so_xa_co_bao_cao", "so_xa_khong_co_mo_hinh_moi"]
# Every metric of contract §2 (and the two extra sums the marts carry), in the order reports list them.
METRICS = (STOCKS[:1] + RANGE_COUNTS[:1] + STOCKS[1:] + FLOWS[:4] + RANGE_COUNTS[1:] + FLOWS[4:6]
           + ["ty_le_giai_ngan"] + FLOWS[6:])
SUB_UNIT_COLUMNS = ["so_xa", "so_xa_dat_chuan", "ty_le_xa_dat_chuan", "so_xa_nang_cao", "so_xa_kieu_mau",
                    "binh_quan_tieu_chi", "so_san_pham_ocop", "so_thon_kieu_mau"]
SUB_UNIT_FLOWS = ["so_mo_hinh_sxkd_moi", "von_giai_ngan_trieu_dong"]


class ReportError(Exception):
    """A report that cannot be made: nothing published, an unknown unit, a bad range."""


@dataclass
class ProgressData:
    cap: str
    ma_don_vi: str
    ten_don_vi: str
    tu: str
    den: str
    era: str
    values: dict[str, float | int | None]            # chi_so → value for the unit and range
    claims: dict[str, dict]                          # chi_so → claim_reconciliation row (same unit and range)
    months: list[dict] = field(default_factory=list)  # the unit's monthly series over the range
    sub_units: list[dict] = field(default_factory=list)
    sub_unit_cap: str = ""
    communes: list[dict] = field(default_factory=list)
    published_at: str = ""
    run_id: str = ""


def _used(sql: str, params: dict | None) -> dict:
    """The named parameters a statement uses: DuckDB rejects any extra one."""
    return {k: v for k, v in (params or {}).items() if re.search(rf"\${k}\b", sql)}


def _rows(conn, sql: str, params: dict | None = None) -> list[dict]:
    cursor = conn.execute(sql, _used(sql, params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _number(value):
    """DuckDB's DECIMAL and HUGEINT as plain Python numbers; NaN as missing."""
    if value is None:
        return None
    number = float(value)
    if number != number:
        return None
    return int(number) if number.is_integer() and not isinstance(value, float) else number


def _has_table(conn, name: str) -> bool:
    return conn.execute("select count(*) from duckdb_tables() where schema_name = 'main' and table_name = ?",
                        [name]).fetchone()[0] > 0


def check_request(cap: str, tu: str, den: str) -> None:
    if cap not in CAPS:
        raise ReportError(f"cấp '{cap}' không hợp lệ (one of {', '.join(CAPS)})")
    for name, month in (("--tu", tu), ("--den", den)):
        if not MONTH.match(month or ""):
            raise ReportError(f"{name} '{month}' is not a month YYYY-MM")
    if tu > den:
        raise ReportError(f"--tu {tu} is after --den {den}")


def _unit_filter(cap: str, alias: str = "") -> str:
    """Commune rows of `fct_commune_month` that belong to the unit (parameter: its code)."""
    prefix = f"{alias}." if alias else ""
    return {"tinh": f"{prefix}ma_tinh = $code", "huyen": f"{prefix}ma_huyen = $code",
            "toan_quoc": "true"}[cap]


def _series(conn, cap: str, code: str, tu: str, den: str) -> list[dict]:
    """The unit's months over the range; a 2025 province's pre-reform months from the roll-up."""
    reform = rules.reform_month()
    own_from = tu
    before: list[dict] = []
    if cap == "tinh" and rules.era_of_month(den) == rules.REFORM_2025 and tu < reform:
        own_from = reform
        if _has_table(conn, "mart_province_month_2025"):
            before = _rows(conn, """select * exclude (ma_tinh_2025, ten_tinh_2025), ten_tinh_2025 as ten_don_vi
                                    from mart_province_month_2025
                                    where ma_tinh_2025 = $code and thang >= $tu and thang < $reform order by thang""",
                           {"code": code, "tu": tu, "reform": reform})
    own = _rows(conn, """select * from mart_unit_month where cap = $cap and ma_don_vi = $code
                         and thang between $tu and $den order by thang""",
                {"cap": cap, "code": code, "tu": own_from, "den": den})
    return before + own


def _range_counts(conn, cap: str, code: str, tu: str, den: str, era: str) -> dict:
    """Communes in scope at den that reported in the range, and those with no new model in it."""
    sql = f"""
        with scope as (
            select distinct ma_xa from fct_commune_month where thang = $den and {_unit_filter(cap)}
        ),
        months as (
            select case when f.era = $era then f.ma_xa else d.ma_xa_2025 end as ma_xa,
                   f.co_bao_cao, f.so_mo_hinh_sxkd_moi
            from fct_commune_month as f
            left join dim_admin_unit as d on d.era = f.era and d.ma_xa = f.ma_xa and f.era <> $era
            where f.thang between $tu and $den
        ),
        per_commune as (
            select ma_xa, bool_or(co_bao_cao) as co_bao_cao, coalesce(sum(so_mo_hinh_sxkd_moi), 0) as moi
            from months group by ma_xa
        )
        select count_if(coalesce(p.co_bao_cao, false)), count_if(coalesce(p.moi, 0) = 0)
        from scope as s left join per_commune as p using (ma_xa)"""
    row = conn.execute(sql, _used(sql, {"code": code, "tu": tu, "den": den, "era": era})).fetchone()
    return {"so_xa_co_bao_cao": int(row[0]), "so_xa_khong_co_mo_hinh_moi": int(row[1])}


def _claims(conn, cap: str, code: str, tu: str, den: str) -> dict[str, dict]:
    if not _has_table(conn, "claim_reconciliation"):
        return {}
    rows = _rows(conn, """select * from claim_reconciliation where cap = $cap and coalesce(ma_don_vi, '') = $code
                          and tu_thang = $tu and den_thang = $den""",
                 {"cap": cap, "code": "" if cap == "toan_quoc" else code, "tu": tu, "den": den})
    return {row["chi_so"]: row for row in rows}


def _sub_units(conn, cap: str, code: str, tu: str, den: str, era: str) -> tuple[str, list[dict]]:
    """Districts of a pre-reform province, communes of a district or 2025 province, provinces of the
    nation: stocks at den, and their flows over the range's months of den's era."""
    if cap == "toan_quoc":
        sub_cap, members = "tinh", "select distinct ma_tinh from fct_commune_month where thang = $den"
    elif cap == "tinh" and era == rules.LEGACY:
        sub_cap, members = "huyen", ("select distinct ma_huyen from fct_commune_month "
                                     "where thang = $den and ma_tinh = $code")
    else:
        sub_cap, members = "xa", f"select ma_xa from fct_commune_month where thang = $den and {_unit_filter(cap)}"
    flows = ", ".join(f"sum(f.{c}) as {c}" for c in SUB_UNIT_FLOWS)
    rows = _rows(conn, f"""
        with flows as (
            select f.ma_don_vi, {flows} from mart_unit_month as f
            where f.cap = $sub_cap and f.thang between greatest($tu, $era_from) and $den group by f.ma_don_vi
        )
        select m.*, {', '.join(f'flows.{c} as {c}__range' for c in SUB_UNIT_FLOWS)}
        from mart_unit_month as m left join flows using (ma_don_vi)
        where m.cap = $sub_cap and m.thang = $den and m.ma_don_vi in ({members})
        order by m.ma_don_vi""",
        {"sub_cap": sub_cap, "code": code, "tu": tu, "den": den,
         "era_from": rules.reform_month() if era == rules.REFORM_2025 else "0000-00"})
    table = []
    for row in rows:
        entry = {"ma_don_vi": row["ma_don_vi"], "ten_don_vi": row["ten_don_vi"]}
        entry.update({c: _number(row.get(c)) for c in SUB_UNIT_COLUMNS})
        entry.update({c: _number(row.get(f"{c}__range")) for c in SUB_UNIT_FLOWS})
        table.append(entry)
    return sub_cap, table


def _communes(conn, cap: str, code: str, den: str) -> list[dict]:
    """The unit's communes at `den` with their title and criteria, and their centre's coordinates from
    dim_admin_unit (None for a copy published before it held them: the map then leaves them out)."""
    located = bool(conn.execute("select count(*) from information_schema.columns where table_name = "
                                "'dim_admin_unit' and column_name = 'vi_do'").fetchone()[0])
    rows = _rows(conn, f"""select c.ma_xa, c.ten_xa, c.ma_huyen, c.ten_huyen, c.ma_tinh, c.ten_tinh, c.danh_hieu,
                                  c.bac_danh_hieu, c.so_tieu_chi_dat, c.so_tieu_chi_bo, c.co_bao_cao,
                                  {'u.vi_do, u.kinh_do' if located else 'null as vi_do, null as kinh_do'}
                           from fct_commune_month as c
                           {'left join dim_admin_unit as u on u.era = c.era and u.ma_xa = c.ma_xa' if located else ''}
                           where c.thang = $den and {_unit_filter(cap, 'c')}
                           order by c.ma_tinh, c.ma_huyen, c.ma_xa""", {"code": code, "den": den})
    for row in rows:
        row["so_tieu_chi_dat"] = _number(row["so_tieu_chi_dat"])
    return rows


def load(conn: duckdb.DuckDBPyConnection, cap: str, code: str, tu: str, den: str) -> ProgressData:
    """Everything one report states, for `cap` `code` (ignored for toan_quoc) over tu..den."""
    check_request(cap, tu, den)
    code = "" if cap == "toan_quoc" else (code or "").strip()
    era = rules.era_of_month(den)
    at_den = _rows(conn, "select * from mart_unit_month where cap = $cap and ma_don_vi = $code and thang = $den",
                   {"cap": cap, "code": code, "den": den})
    if not at_den:
        known = conn.execute("select count(*) from mart_unit_month where cap = $cap and ma_don_vi = $code",
                             {"cap": cap, "code": code}).fetchone()[0]
        where = f"in {den}" if known else "in the published warehouse"
        raise ReportError(f"unknown unit: cap {cap} ma_don_vi '{code}' has no row {where} (units of {den}'s era)")
    stock_row = at_den[0]
    months = _series(conn, cap, code, tu, den)
    values: dict[str, float | int | None] = {name: _number(stock_row.get(name)) for name in STOCKS}
    for flow in FLOWS:
        present = [m.get(flow) for m in months if m.get(flow) is not None]
        values[flow] = _number(sum(present)) if present else None
    planned, disbursed = values["von_ke_hoach_trieu_dong"], values["von_giai_ngan_trieu_dong"]
    values["ty_le_giai_ngan"] = 100 * float(disbursed) / float(planned) if planned and disbursed is not None else None
    values.update(_range_counts(conn, cap, code, tu, den, era))
    sub_cap, sub_units = _sub_units(conn, cap, code, tu, den, era)
    manifest = _rows(conn, "select any_value(run_id) as run_id, max(published_at) as published_at "
                           "from publication_manifest") if _has_table(conn, "publication_manifest") else [{}]
    return ProgressData(
        cap=cap, ma_don_vi=code, ten_don_vi=stock_row.get("ten_don_vi") or code, tu=tu, den=den, era=era,
        values={name: values.get(name) for name in METRICS}, claims=_claims(conn, cap, code, tu, den),
        months=[{"thang": m["thang"], **{k: _number(m.get(k)) for k in STOCKS + FLOWS}} for m in months],
        sub_units=sub_units, sub_unit_cap=sub_cap, communes=_communes(conn, cap, code, den),
        published_at=str(manifest[0].get("published_at") or ""), run_id=str(manifest[0].get("run_id") or ""),
    )


def covered_provinces(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(province code, tu, den) for every province of the published marts that has reports, over its
    latest reporting range: January to its last month with a submission, as the seed reports state
    "6 tháng đầu năm". A province whose reporting ended (a legacy province, a sample of 2020) keeps
    the report of its last range; a code of both eras takes its latest (den's era decides the units)."""
    rows = conn.execute("""
        select ma_don_vi, max(thang) filter (where so_xa_co_bao_cao > 0) as reported
        from mart_unit_month
        where cap = 'tinh'
        group by ma_don_vi
        having reported is not null
        order by ma_don_vi
    """).fetchall()
    return [(code, den[:4] + "-01", den) for code, den in rows]
