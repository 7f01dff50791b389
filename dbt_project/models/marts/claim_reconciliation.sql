-- Every stated number (contract §2) against the same metric computed from its unit's commune rows.
-- Communes: those in the unit's scope at den_thang. Stocks: each commune's latest submission whose
-- period ends within the range, at or before den_thang. Flows: summed over the range.
-- A count matches exactly; a percentage, mean or amount when the computed value, rounded to the
-- decimals the claim was written with, equals it.
with claims as (select * from {{ ref('int_claim_versions') }} where is_current),

communes as (select * from {{ ref('fct_commune_month') }}),

{% set unit_match %}
    (c.cap = 'toan_quoc'
     or (c.cap = 'tinh' and f.ma_tinh = c.ma_don_vi)
     or (c.cap = 'huyen' and f.ma_huyen = c.ma_don_vi))
{% endset %}

at_end as (
    select c.claim_id, f.*
    from claims as c
    inner join communes as f on f.thang_ky = c.den_thang_ky and {{ unit_match }}
),

over_range as (
    select
        c.claim_id,
        f.ma_xa,
        bool_or(f.co_bao_cao) as co_bao_cao,
        sum(f.so_mo_hinh_sxkd_moi) as so_mo_hinh_sxkd_moi,
        sum(f.so_htx_moi) as so_htx_moi,
        sum(f.so_tht_moi) as so_tht_moi,
        sum(f.so_dn_moi) as so_dn_moi,
        sum(f.von_ke_hoach_trieu_dong) as von_ke_hoach_trieu_dong,
        sum(f.von_giai_ngan_trieu_dong) as von_giai_ngan_trieu_dong,
        sum(f.xi_mang_tan) as xi_mang_tan
    from claims as c
    inner join communes as f
        on f.thang_ky between c.tu_thang_ky and c.den_thang_ky and {{ unit_match }}
    group by c.claim_id, f.ma_xa
),

commune_rows as (
    select
        e.claim_id,
        e.ma_xa,
        coalesce(r.co_bao_cao, false) as co_bao_cao,
        {%- for stock in ['so_tieu_chi_dat', 'so_tieu_chi_bo', 'bac_danh_hieu', 'so_san_pham_ocop_3_sao',
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

picked as (
    select
        c.*,
        computed.claim_id is not null as co_don_vi,
        case c.chi_so
            {%- for name in ntm_metrics() %}
            when '{{ name }}' then computed.{{ name }}__tu
            {%- endfor %}
        end as tu_so,
        case c.chi_so
            {%- for name in ntm_metrics() %}
            when '{{ name }}' then computed.{{ name }}__mau
            {%- endfor %}
        end as mau_so
    from claims as c
    left join computed using (claim_id)
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
    co_don_vi and {{ matches_when_rounded("tu_so", "mau_so", "gia_tri", "so_chu_so_thap_phan") }} as khop,
    nguon,
    file_name,
    source_sheet,
    source_row
from picked
