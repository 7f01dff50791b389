-- Every metric of contract §2 per 2025 province (34 tỉnh/thành after the 1 July 2025 reform) and
-- month, over the whole history: months before the reform roll their legacy communes up onto the
-- 2025 province their default crosswalk unit belongs to (int_unit_successor), so a province's series survives the
-- reform. Legacy communes missing from the crosswalk (roster units merged away before the
-- reference list) cannot be placed and are left out; so_xa_khong_anh_xa counts them per month.
with communes as (select * from {{ ref('fct_commune_month') }} where {{ month_window('thang_ky') }}),

successor as (select era, ma_xa, ma_tinh_2025 from {{ ref('int_unit_successor') }} where era = 'legacy'),

provinces_2025 as (
    select distinct on (ma_tinh) ma_tinh, ten_tinh
    from {{ ref('stg_admin_units') }}
    where era = 'reform2025'
    order by ma_tinh
),

placed as (
    select
        communes.*,
        case when communes.era = 'legacy' then successor.ma_tinh_2025 else communes.ma_tinh end as ma_tinh_2025
    from communes
    left join successor on successor.era = communes.era and successor.ma_xa = communes.ma_xa
),

unplaced as (
    select thang_ky, count(*) as so_xa_khong_anh_xa from placed where ma_tinh_2025 is null group by thang_ky
)

select
    cast(p.ma_tinh_2025 as varchar) as ma_tinh_2025,
    cast(coalesce(any_value(n.ten_tinh), 'Tỉnh ' || p.ma_tinh_2025) as varchar) as ten_tinh_2025,
    p.thang,
    p.thang_ky,
    any_value(p.era) as era,
    cast(count(distinct p.ma_tinh) as bigint) as so_tinh_nguon,
    cast(coalesce(any_value(u.so_xa_khong_anh_xa), 0) as bigint) as so_xa_khong_anh_xa,
    {{ metric_columns() }}
from placed as p
left join provinces_2025 as n on n.ma_tinh = p.ma_tinh_2025
left join unplaced as u on u.thang_ky = p.thang_ky
where p.ma_tinh_2025 is not null
group by p.ma_tinh_2025, p.thang, p.thang_ky
