-- Every OCOP rating decision with its product, producer and place named: no joins left to write.
select
    r.khoa_san_pham,
    p.ten_san_pham,
    p.nhom_san_pham,
    r.khoa_chu_the,
    pr.ten_chu_the,
    pr.loai_chu_the,
    p.era,
    r.ma_xa,
    u.ten_xa,
    u.ma_huyen,
    u.ten_huyen,
    u.ma_tinh,
    u.ten_tinh,
    r.so_quyet_dinh,
    r.ngay_quyet_dinh,
    year(r.ngay_quyet_dinh) as nam_quyet_dinh,
    r.cap_danh_gia,
    r.diem,
    r.so_sao,
    r.la_san_pham_ocop,
    r.tiem_nang_5_sao,
    r.hieu_luc_tu,
    r.hieu_luc_den
from {{ ref('fct_ocop_rating') }} as r
join {{ ref('dim_ocop_product') }} as p using (khoa_san_pham)
left join {{ ref('dim_producer') }} as pr on pr.khoa_chu_the = r.khoa_chu_the
left join {{ ref('dim_admin_unit') }} as u on u.era = p.era and u.ma_xa = r.ma_xa
