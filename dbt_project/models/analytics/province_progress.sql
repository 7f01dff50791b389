-- Provinces' progress month by month, with the change in recognised communes since the previous
-- month of the same era (province codes are reused across the 2025 reform, so never across it).
select
    m.thang,
    m.thang_ky,
    p.era,
    m.ma_don_vi as ma_tinh,
    m.ten_don_vi as ten_tinh,
    m.so_xa,
    m.so_xa_co_bao_cao,
    m.so_xa_dat_chuan,
    m.ty_le_xa_dat_chuan,
    m.so_xa_dat_chuan - lag(m.so_xa_dat_chuan) over by_province as tang_xa_dat_chuan,
    m.so_xa_nang_cao,
    m.so_xa_kieu_mau,
    m.binh_quan_tieu_chi,
    m.so_san_pham_ocop,
    m.so_thon_kieu_mau,
    m.so_mo_hinh_sxkd_moi,
    m.von_ke_hoach_trieu_dong,
    m.von_giai_ngan_trieu_dong,
    m.ty_le_giai_ngan
from {{ ref('mart_unit_month') }} as m
join {{ ref('dim_period') }} as p on p.thang = m.thang
where m.cap = 'tinh'
window by_province as (partition by p.era, m.ma_don_vi order by m.thang_ky)
