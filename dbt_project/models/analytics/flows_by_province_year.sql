-- Flows (new production models, cooperatives, groups, enterprises, capital, cement) per province
-- and year, summed over the months of the year that had submissions.
select
    f.era,
    f.ma_tinh,
    t.ten_tinh,
    year(f.thang_ky) as nam,
    count(distinct f.ma_xa) as so_xa_co_bao_cao,
    sum(f.so_mo_hinh_sxkd_moi) as so_mo_hinh_sxkd_moi,
    sum(f.so_htx_moi) as so_htx_moi,
    sum(f.so_tht_moi) as so_tht_moi,
    sum(f.so_dn_moi) as so_dn_moi,
    sum(f.von_ke_hoach_trieu_dong) as von_ke_hoach_trieu_dong,
    sum(f.von_giai_ngan_trieu_dong) as von_giai_ngan_trieu_dong,
    sum(f.von_giai_ngan_trieu_dong) * 100.0 / nullif(sum(f.von_ke_hoach_trieu_dong), 0) as ty_le_giai_ngan,
    sum(f.xi_mang_tan) as xi_mang_tan
from {{ ref('fct_commune_flows') }} as f
left join (select distinct era, ma_tinh, ten_tinh from {{ ref('dim_admin_unit') }}) as t using (era, ma_tinh)
group by all
