-- One row per product and rating decision (quyết định): score, stars, certifying level, and the
-- certificate's validity, 36 months from the decision date (domain.md). A decision listed in many
-- submissions takes the values of its latest listing.
with listings as (select * from {{ ref('int_ocop_listings_keyed') }}),

bands as (select * from {{ ref('ocop_star_bands') }}),

ratings as (
    select
        khoa_san_pham,
        so_quyet_dinh,
        ngay_quyet_dinh,
        arg_max(diem, (thang_ky, ngay_lap, arrived_at)) as diem,
        arg_max(so_sao, (thang_ky, ngay_lap, arrived_at)) as so_sao,
        arg_max(cap_danh_gia, (thang_ky, ngay_lap, arrived_at)) as cap_danh_gia,
        arg_max(khoa_chu_the, (thang_ky, ngay_lap, arrived_at)) as khoa_chu_the,
        arg_max(ma_xa, (thang_ky, ngay_lap, arrived_at)) as ma_xa,
        min(het_hieu_luc) as het_hieu_luc,
        min(thang_ky) as thang_ky_dau_tien,
        max(thang_ky) as thang_ky_gan_nhat
    from listings
    group by khoa_san_pham, so_quyet_dinh, ngay_quyet_dinh
)

select
    r.khoa_san_pham,
    r.so_quyet_dinh,
    r.ngay_quyet_dinh,
    r.diem,
    r.so_sao,
    b.so_sao as so_sao_theo_diem,
    coalesce(cast(stars.la_san_pham_ocop as boolean), false) as la_san_pham_ocop,
    r.so_sao = 4 and r.diem >= 90 as tiem_nang_5_sao,
    r.cap_danh_gia,
    r.khoa_chu_the,
    r.ma_xa,
    r.ngay_quyet_dinh as hieu_luc_tu,
    cast(r.het_hieu_luc - interval 1 day as date) as hieu_luc_den,
    r.thang_ky_dau_tien,
    r.thang_ky_gan_nhat
from ratings as r
left join bands as b on r.diem >= b.diem_tu and r.diem < b.diem_duoi
-- whether a rating is an OCOP product (3 stars or more) is the seed's, as its bands are
left join bands as stars on stars.so_sao = r.so_sao
