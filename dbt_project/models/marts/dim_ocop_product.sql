-- One row per OCOP product (stable identity across submissions), described by its latest listing.
with listings as (select * from {{ ref('int_ocop_listings_keyed') }})

select
    khoa_san_pham,
    arg_max(nullif(trim(ma_san_pham), ''), (thang_ky, ngay_lap, arrived_at)) as ma_san_pham,
    arg_max(ten_san_pham, (thang_ky, ngay_lap, arrived_at)) as ten_san_pham,
    arg_max(nhom_san_pham, (thang_ky, ngay_lap, arrived_at)) as nhom_san_pham,
    arg_max(khoa_chu_the, (thang_ky, ngay_lap, arrived_at)) as khoa_chu_the,
    arg_max(ma_xa, (thang_ky, ngay_lap, arrived_at)) as ma_xa,
    arg_max(era, (thang_ky, ngay_lap, arrived_at)) as era,
    min(thang_ky) as thang_ky_dau_tien,
    max(thang_ky) as thang_ky_gan_nhat,
    count(distinct coalesce(so_quyet_dinh, '') || '@' || coalesce(cast(ngay_quyet_dinh as varchar), '')) as so_lan_danh_gia
from listings
group by khoa_san_pham
