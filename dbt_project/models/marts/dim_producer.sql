-- One row per OCOP producer (chủ thể): folded name within its commune, described by its latest listing.
with listings as (select * from {{ ref('int_ocop_listings_keyed') }})

select
    khoa_chu_the,
    arg_max(chu_the, (thang_ky, ngay_lap, arrived_at)) as ten_chu_the,
    arg_max(loai_chu_the, (thang_ky, ngay_lap, arrived_at)) as loai_chu_the,
    arg_max(ma_xa, (thang_ky, ngay_lap, arrived_at)) as ma_xa,
    count(distinct khoa_san_pham) as so_san_pham,
    min(thang_ky) as thang_ky_dau_tien,
    max(thang_ky) as thang_ky_gan_nhat
from listings
group by khoa_chu_the
