-- Every stated number (contract §2) against the same metric computed from its unit's commune rows,
-- with the metric definitions of macros/metrics.sql (the same as mart_unit_month's).
-- The claim's units are those of den_thang's era (a district claim ending after 1 July 2025 has
-- none: districts were abolished). Stocks: the communes in scope at den_thang, each with its latest
-- submission whose period ends within the range, at or before den_thang.
-- Flows over the range: month by month, the communes in scope that month whose unit lies within the
-- claimed unit; across the reform a legacy commune is placed by int_unit_successor (its default
-- crosswalk link), so a 2025 province's year includes its predecessors' first half, and a legacy
-- commune is never joined to the unrelated 2025 commune that reuses its code.
-- so_xa_co_bao_cao and so_xa_khong_co_mo_hinh_moi: the units at den_thang, each with its own and its
-- predecessors' reports and flows in the range.
-- A count matches exactly; a percentage, mean or amount when the computed value, rounded to the
-- decimals the claim was written with, equals it.
with claims as (
    select *, {{ era_of('den_thang_ky') }} as era_ky
    from {{ ref('int_claim_versions') }}
    where is_current
),

communes as (select * from {{ ref('fct_commune_month') }}),

successor as (select * from {{ ref('int_unit_successor') }}),

at_end as (
    select c.claim_id, f.*
    from claims as c
    inner join communes as f
        on f.thang_ky = c.den_thang_ky
        and (c.cap = 'toan_quoc'
             or (c.cap = 'tinh' and f.ma_tinh = c.ma_don_vi)
             or (c.cap = 'huyen' and f.ma_huyen = c.ma_don_vi))
),

-- Each commune-month with the unit it lies in within each era: its own in its era, its 2025 unit
-- (default link) for a legacy one.
placed as (
    select
        f.*,
        s.ma_xa_2025,
        s.ma_tinh_2025
    from communes as f
    left join successor as s on f.era = 'legacy' and s.era = f.era and s.ma_xa = f.ma_xa
),

in_range as (
    select
        c.claim_id,
        case when p.era = c.era_ky then p.ma_xa else p.ma_xa_2025 end as ma_xa,
        p.co_bao_cao,
        {%- for flow in ['so_mo_hinh_sxkd_moi', 'so_htx_moi', 'so_tht_moi', 'so_dn_moi', 'von_ke_hoach_trieu_dong',
                         'von_giai_ngan_trieu_dong', 'xi_mang_tan'] %}
        p.{{ flow }}{{ ',' if not loop.last }}
        {%- endfor %}
    from claims as c
    inner join placed as p
        on p.thang_ky between c.tu_thang_ky and c.den_thang_ky
        and (p.era = c.era_ky or (p.era = 'legacy' and c.era_ky = 'reform2025'))
        and (c.cap = 'toan_quoc'
             or (c.cap = 'tinh' and c.ma_don_vi = case when p.era = c.era_ky then p.ma_tinh else p.ma_tinh_2025 end)
             or (c.cap = 'huyen' and p.era = c.era_ky and p.ma_huyen = c.ma_don_vi))
),

-- One row per unit of den_thang's era the range's communes lie in: flows and reports summed over
-- the range.
over_range as (
    select
        claim_id,
        ma_xa,
        bool_or(co_bao_cao) as co_bao_cao,
        sum(so_mo_hinh_sxkd_moi) as so_mo_hinh_sxkd_moi,
        sum(so_htx_moi) as so_htx_moi,
        sum(so_tht_moi) as so_tht_moi,
        sum(so_dn_moi) as so_dn_moi,
        sum(von_ke_hoach_trieu_dong) as von_ke_hoach_trieu_dong,
        sum(von_giai_ngan_trieu_dong) as von_giai_ngan_trieu_dong,
        sum(xi_mang_tan) as xi_mang_tan
    from in_range
    group by claim_id, ma_xa
),

commune_rows as (
    select
        e.claim_id,
        e.ma_xa,
        coalesce(r.co_bao_cao, false) as co_bao_cao,
        {%- for stock in ['so_tieu_chi_dat', 'so_tieu_chi_bo', 'danh_hieu', 'bac_danh_hieu', 'so_san_pham_ocop_3_sao',
                          'so_san_pham_ocop_4_sao', 'so_san_pham_ocop_5_sao', 'so_thon_kieu_mau'] %}
        case when e.thang_ky_so_lieu >= c.tu_thang_ky then e.{{ stock }} end as {{ stock }},
        {%- endfor %}
        r.so_mo_hinh_sxkd_moi,
        r.so_htx_moi,
        r.so_tht_moi,
        r.so_dn_moi,
        r.von_ke_hoach_trieu_dong,
        r.von_giai_ngan_trieu_dong,
        r.xi_mang_tan
    from at_end as e
    inner join claims as c using (claim_id)
    left join over_range as r using (claim_id, ma_xa)
),

computed as (
    select claim_id, {{ metric_fractions() }}
    from commune_rows
    group by claim_id
),

-- Sums of flows over every unit the range's communes lie in, whether or not it is in scope at
-- den_thang (a legacy commune merged into a ward still counts in its province's year).
computed_flows as (
    select claim_id, {{ metric_fractions(range_flow_metrics()) }}
    from over_range
    group by claim_id
),

picked as (
    select
        c.*,
        computed.claim_id is not null as co_don_vi,
        case c.chi_so
            {%- for name in ntm_metrics() %}
            {%- if name in range_flow_metrics() %}
            when '{{ name }}' then flows.{{ name }}__tu
            {%- else %}
            when '{{ name }}' then computed.{{ name }}__tu
            {%- endif %}
            {%- endfor %}
        end as tu_so,
        case c.chi_so
            {%- for name in ntm_metrics() %}
            {%- if name in range_flow_metrics() %}
            when '{{ name }}' then flows.{{ name }}__mau
            {%- else %}
            when '{{ name }}' then computed.{{ name }}__mau
            {%- endif %}
            {%- endfor %}
        end as mau_so
    from claims as c
    left join computed using (claim_id)
    left join computed_flows as flows using (claim_id)
)

select
    claim_id,
    cap,
    ma_don_vi,
    tu_thang,
    den_thang,
    chi_so,
    cast(gia_tri as double) as gia_tri_bao_cao,
    gia_tri_goc,
    so_chu_so_thap_phan,
    cast(tu_so as double) / nullif(cast(mau_so as double), 0) as gia_tri_tinh_toan,
    tu_so,
    mau_so,
    co_don_vi,
    cap = 'huyen' and era_ky <> 'legacy' as huyen_da_bai_bo,
    co_don_vi and {{ matches_when_rounded("tu_so", "mau_so", "gia_tri", "so_chu_so_thap_phan") }} as khop,
    nguon,
    file_name,
    source_sheet,
    source_row
from picked
