-- Commune × month flows (new production/business models, HTX, THT, DN, capital planned and
-- disbursed, cement) of the submissions attributed to the month; only months with a submission.
-- Sum over any range of months for a period's flows.
select
    thang_ky,
    thang,
    era,
    ma_xa,
    ma_huyen,
    ma_tinh,
    coalesce(so_mo_hinh_sxkd_moi, 0) as so_mo_hinh_sxkd_moi,
    coalesce(so_htx_moi, 0) as so_htx_moi,
    coalesce(so_tht_moi, 0) as so_tht_moi,
    coalesce(so_dn_moi, 0) as so_dn_moi,
    von_ke_hoach_trieu_dong,
    von_giai_ngan_trieu_dong,
    xi_mang_tan
from {{ ref('fct_commune_month') }}
where co_bao_cao and {{ month_window('thang_ky') }}
