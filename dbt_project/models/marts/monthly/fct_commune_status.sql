-- Commune × month status: criteria met as counted (TieuChi rows) and as declared (TongHop), the
-- title (danh hiệu) and its recognition decision, as of the month's end. A projection of
-- fct_commune_month for analysts who want status without the flows.
select
    thang_ky,
    thang,
    era,
    ma_xa,
    ten_xa,
    ma_huyen,
    ma_tinh,
    submission_id_so_lieu,
    thang_ky_so_lieu,
    bo_tieu_chi,
    so_tieu_chi_bo,
    so_tieu_chi_dat,
    so_tieu_chi_dat_khai_bao,
    so_tieu_chi_dat_khai_bao is not null
        and so_tieu_chi_dat_khai_bao <> so_tieu_chi_dat as khai_bao_khac_dem,
    danh_hieu,
    bac_danh_hieu,
    so_quyet_dinh_cong_nhan,
    ngay_cong_nhan,
    bac_danh_hieu >= 1 and so_tieu_chi_dat < so_tieu_chi_bo as co_danh_hieu_thieu_tieu_chi
from {{ ref('fct_commune_month') }}
where {{ month_window('thang_ky') }}
