-- Communes in scope by title held at each month's end, per province: the title distribution over time.
select
    c.thang,
    c.thang_ky,
    c.era,
    c.ma_tinh,
    c.ten_tinh,
    c.bac_danh_hieu,
    c.danh_hieu,
    count(*) as so_xa
from {{ ref('fct_commune_month') }} as c
group by all
