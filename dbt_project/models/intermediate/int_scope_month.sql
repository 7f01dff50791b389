-- Communes expected to report, per month (contract §3). Roster rows apply to the months between
-- tu_thang and den_thang. Where the roster lists any commune of a province for a month, it alone is
-- that province's scope that month; otherwise every unit of type Xã of the month's era. NOT EXISTS,
-- not NOT IN: a roster row with a NULL ma_tinh must not empty every other province's scope.
with months as (select thang_ky, {{ era_of('thang_ky') }} as era from {{ ref('int_months') }}),

provinces as (select distinct era, ma_tinh from {{ ref('int_covered_provinces') }}),

roster as (select * from {{ ref('stg_roster') }}),

units as (select * from {{ ref('stg_admin_units') }}),

province_names as (
    select distinct on (era, ma_tinh) era, ma_tinh, ten_tinh from units order by era, ma_tinh
),

from_roster as (
    select
        m.thang_ky,
        m.era,
        r.ma_xa,
        coalesce(u.ten_xa, r.ten_xa) as ten_xa,
        -- districts were abolished on 1 July 2025: a post-reform row has none, whatever the roster says
        case when m.era = 'legacy' then coalesce(r.ma_huyen, u.ma_huyen) end as ma_huyen,
        u.ten_huyen,
        r.ma_tinh,
        u.ma_xa is not null as co_trong_danh_muc,
        'roster' as nguon_pham_vi
    from roster as r
    inner join months as m
        on (r.tu_thang_ky is null or m.thang_ky >= r.tu_thang_ky)
        and (r.den_thang_ky is null or m.thang_ky <= r.den_thang_ky)
    inner join provinces as p on p.era = m.era and p.ma_tinh = r.ma_tinh
    left join units as u on u.era = m.era and u.ma_xa = r.ma_xa
),

from_reference as (
    select
        m.thang_ky,
        m.era,
        u.ma_xa,
        u.ten_xa,
        u.ma_huyen,
        u.ten_huyen,
        u.ma_tinh,
        true as co_trong_danh_muc,
        'reference' as nguon_pham_vi
    from units as u
    inner join provinces as p on p.era = u.era and p.ma_tinh = u.ma_tinh
    inner join months as m on m.era = u.era
    where u.loai_xa = 'Xã'
      and not exists (
          select 1 from roster as r
          where r.ma_tinh = u.ma_tinh
            and (r.tu_thang_ky is null or m.thang_ky >= r.tu_thang_ky)
            and (r.den_thang_ky is null or m.thang_ky <= r.den_thang_ky)
      )
),

scoped as (
    select * from from_roster
    union all
    select * from from_reference
)

select
    scoped.*,
    case when scoped.era = 'legacy' then scoped.ma_huyen end as ma_huyen_hieu_luc,
    coalesce(pn.ten_tinh, 'Tỉnh ' || scoped.ma_tinh) as ten_tinh
from scoped
left join province_names as pn on pn.era = scoped.era and pn.ma_tinh = scoped.ma_tinh
