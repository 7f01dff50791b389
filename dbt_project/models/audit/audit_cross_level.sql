-- Cross-level consistency:
--   CROSS_LEVEL_MISMATCH   in mart_unit_month, a province's figure against the sum of its communes and
--                          the sum of its districts (districts placed in provinces by the reference
--                          list), and the national figure against the sum of provinces; every additive
--                          metric (counts and sums), every month
--   CLAIM_LEVEL_MISMATCH   summary claims for the same metric and range at two levels: a province's
--                          claim against its districts' claims (equal when every district in scope has
--                          claimed, else at least their sum), and the national claim against the provinces'
{% set additive = [] %}
{% for name, parts in ntm_metrics().items() %}{% if parts[1] is none %}{% do additive.append(name) %}{% endif %}{% endfor %}

with marts as (select * from {{ ref('mart_unit_month') }}),

commune_months as (select ma_xa, thang_ky, ma_huyen, ma_tinh from {{ ref('fct_commune_month') }}),

district_province as (
    select distinct era, ma_huyen, ma_tinh from {{ ref('stg_admin_units') }} where ma_huyen is not null
),


-- Districts, provinces and the nation, one row per metric (the few upper-level rows only: the
-- communes are summed per province first, wide, which is what keeps this cheap nationally).
unit_values as (
    select m.cap, m.ma_don_vi, m.thang, m.thang_ky, {{ era_of('m.thang_ky') }} as era, v.chi_so, v.gia_tri
    from marts as m
    cross join lateral (
        values {% for name in additive %}('{{ name }}', cast(m.{{ name }} as double)){{ ',' if not loop.last }}{% endfor %}
    ) as v(chi_so, gia_tri)
    where m.cap <> 'xa'
),

province_values as (select * from unit_values where cap = 'tinh'),

-- Communes of each province and month, as the commune rows place them; those without a district
-- are kept apart (a roster unit missing from the reference, flagged as a warning on its own).
commune_sums_wide as (
    select
        c.ma_tinh, m.thang_ky,
        {%- for name in additive %}
        sum(m.{{ name }}) as {{ name }},
        sum(case when c.ma_huyen is null then m.{{ name }} else 0 end) as {{ name }}__khong_huyen{{ ',' if not loop.last }}
        {%- endfor %}
    from marts as m
    inner join commune_months as c on c.ma_xa = m.ma_don_vi and c.thang_ky = m.thang_ky
    where m.cap = 'xa'
    group by all
),

commune_sums as (
    select w.ma_tinh, w.thang_ky, v.chi_so, v.gia_tri as tong_xa, k.gia_tri as tong_xa_khong_huyen
    from commune_sums_wide as w
    cross join lateral (
        values {% for name in additive %}('{{ name }}', cast(w.{{ name }} as double)){{ ',' if not loop.last }}{% endfor %}
    ) as v(chi_so, gia_tri)
    cross join lateral (
        values {% for name in additive %}('{{ name }}', cast(w.{{ name }}__khong_huyen as double)){{ ',' if not loop.last }}{% endfor %}
    ) as k(chi_so, gia_tri)
    where k.chi_so = v.chi_so
),

district_sums as (
    select coalesce(dp.ma_tinh, c.ma_tinh) as ma_tinh, v.thang_ky, v.chi_so, sum(v.gia_tri) as tong_huyen
    from unit_values as v
    left join district_province as dp on dp.era = v.era and dp.ma_huyen = v.ma_don_vi
    -- a district code the reference does not know belongs where its communes are
    left join (select distinct ma_huyen, ma_tinh, thang_ky from commune_months) as c
        on dp.ma_huyen is null and c.ma_huyen = v.ma_don_vi and c.thang_ky = v.thang_ky
    where v.cap = 'huyen'
    group by all
),

national_sums as (
    select thang_ky, chi_so, sum(gia_tri) as tong_tinh from province_values group by all
),

comparisons as (
    select p.ma_don_vi as ma_tinh, p.thang, p.chi_so, 'xa' as cap_con, p.gia_tri, coalesce(c.tong_xa, 0) as tong_cap_duoi
    from province_values as p
    left join commune_sums as c on c.ma_tinh = p.ma_don_vi and c.thang_ky = p.thang_ky and c.chi_so = p.chi_so

    union all

    select p.ma_don_vi, p.thang, p.chi_so, 'huyen', p.gia_tri - coalesce(c.tong_xa_khong_huyen, 0),
           coalesce(d.tong_huyen, 0)
    from province_values as p
    left join commune_sums as c on c.ma_tinh = p.ma_don_vi and c.thang_ky = p.thang_ky and c.chi_so = p.chi_so
    left join district_sums as d on d.ma_tinh = p.ma_don_vi and d.thang_ky = p.thang_ky and d.chi_so = p.chi_so
    where p.era = 'legacy'  -- districts were abolished on 1 July 2025

    union all

    -- a district placed in a province that has no commune rows of its own that month
    select d.ma_tinh, strftime(d.thang_ky, '%Y-%m'), d.chi_so, 'huyen', 0, d.tong_huyen
    from district_sums as d
    where not exists (select 1 from province_values as p
                      where p.ma_don_vi = d.ma_tinh and p.thang_ky = d.thang_ky and p.chi_so = d.chi_so)
      and d.tong_huyen <> 0

    union all

    select '', n.thang, n.chi_so, 'tinh', n.gia_tri, coalesce(s.tong_tinh, 0)
    from unit_values as n
    left join national_sums as s on s.thang_ky = n.thang_ky and s.chi_so = n.chi_so
    where n.cap = 'toan_quoc'
),

-- One issue per unit and pair of levels, however many months and metrics disagree: one roster slip
-- would otherwise raise hundreds. It is keyed by the first month of disagreement, so it keeps its
-- id (and any waiver) while the slip lasts; its values are one metric's (so_xa first) in the latest month.
disagreements as (
    select *, row_number() over (
        partition by ma_tinh, cap_con order by thang desc, chi_so <> 'so_xa', chi_so) as thu_tu
    from comparisons
    where coalesce(gia_tri, 0) <> coalesce(tong_cap_duoi, 0)  -- an additive "no data" is zero
),

cross_level_mismatch as (
    select
        'CROSS_LEVEL_MISMATCH' as ma_kiem_tra,
        case when ma_tinh = '' then 'toan_quoc' else 'tinh' end as cap,
        ma_tinh as ma_don_vi,
        min(thang) as ky,
        any_value(case when thu_tu = 1 then gia_tri end) as gia_tri_bao_cao,
        any_value(case when thu_tu = 1 then tong_cap_duoi end) as gia_tri_tinh_toan,
        'Tổng các ' || case any_value(cap_con) when 'xa' then 'xã' when 'huyen' then 'huyện' else 'tỉnh' end
            || ' không khớp ' || case when ma_tinh = '' then 'toàn quốc' else 'tỉnh ' || ma_tinh end
            || ' ở ' || count(distinct thang) || ' tháng (' || min(thang) || '..' || max(thang) || '), '
            || count(distinct chi_so) || ' chỉ số (' || string_agg(distinct chi_so, ', ' order by chi_so) || '); '
            || any_value(case when thu_tu = 1 then chi_so || ' tháng ' || thang || ': ' || cast(gia_tri as varchar)
                              || ' so với tổng ' || cast(tong_cap_duoi as varchar) end)
            || ' (levels disagree: the ' || any_value(cap_con) || ' rows do not add up)' as mo_ta,
        cap_con as khoa
    from disagreements
    group by ma_tinh, cap_con
),

claims as (
    select * from {{ ref('int_claim_versions') }}
    where is_current and chi_so in ({% for name in additive %}'{{ name }}'{{ ',' if not loop.last }}{% endfor %})
),

scope_parents as (
    select distinct thang_ky, ma_huyen_hieu_luc as ma_huyen, ma_tinh from {{ ref('int_scope_month') }}
),

-- Children of each parent unit at the claim's end month: districts of a province, provinces of the nation.
children as (
    select thang_ky, 'tinh' as cap, ma_tinh as ma_don_vi, 'huyen' as cap_con, ma_huyen as ma_con
    from scope_parents where ma_huyen is not null
    union all
    select distinct thang_ky, 'toan_quoc', '', 'tinh', ma_tinh from scope_parents
),

claim_level_sums as (
    select
        parent.cap, coalesce(parent.ma_don_vi, '') as ma_don_vi, parent.tu_thang, parent.den_thang, parent.chi_so,
        any_value(parent.gia_tri) as gia_tri_cap_tren,
        any_value(parent.gia_tri_goc) as gia_tri_goc,
        count(distinct ch.ma_con) as so_don_vi_con,
        count(distinct child.ma_don_vi) as so_don_vi_con_co_bao_cao,
        sum(child.gia_tri) as tong_cap_duoi,
        any_value(ch.cap_con) as cap_con
    from claims as parent
    inner join children as ch
        on ch.thang_ky = parent.den_thang_ky and ch.cap = parent.cap and ch.ma_don_vi = coalesce(parent.ma_don_vi, '')
    left join claims as child
        on child.cap = ch.cap_con and child.ma_don_vi = ch.ma_con
        and child.tu_thang = parent.tu_thang and child.den_thang = parent.den_thang and child.chi_so = parent.chi_so
    group by all
),

claim_level_mismatch as (
    select
        'CLAIM_LEVEL_MISMATCH', cap, ma_don_vi, tu_thang || '..' || den_thang,
        cast(gia_tri_cap_tren as double), cast(tong_cap_duoi as double),
        'Chỉ số ' || chi_so || ' của ' || case cap when 'toan_quoc' then 'toàn quốc' else cap || ' ' || ma_don_vi end
            || ' báo cáo ' || gia_tri_goc || ' nhưng ' || so_don_vi_con_co_bao_cao || '/' || so_don_vi_con || ' '
            || case cap_con when 'huyen' then 'huyện' else 'tỉnh' end || ' báo cáo tổng cộng '
            || cast(tong_cap_duoi as varchar) || ' (claims at two levels disagree)',
        chi_so
    from claim_level_sums
    where so_don_vi_con_co_bao_cao > 0
      and ((so_don_vi_con_co_bao_cao = so_don_vi_con and gia_tri_cap_tren <> tong_cap_duoi)
           or gia_tri_cap_tren < tong_cap_duoi)
)

select * from cross_level_mismatch
union all select * from claim_level_mismatch
