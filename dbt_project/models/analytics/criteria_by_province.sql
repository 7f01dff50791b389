-- Each criterion's share of communes meeting it, per province and month (communes that have reported).
select
    c.thang,
    c.thang_ky,
    c.era,
    c.ma_tinh,
    t.ten_tinh,
    c.bo_tieu_chi,
    c.tieu_chi,
    d.ten_tieu_chi,
    count(*) as so_xa,
    count_if(c.dat) as so_xa_dat,
    count_if(c.dat) * 100.0 / count(*) as ty_le_dat
from {{ ref('fct_commune_criteria') }} as c
join {{ ref('dim_criterion') }} as d using (bo_tieu_chi, tieu_chi)
left join (select distinct era, ma_tinh, ten_tinh from {{ ref('dim_admin_unit') }}) as t using (era, ma_tinh)
group by all
