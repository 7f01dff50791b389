-- OCOP products by province, product group and stars of their latest rating; how many still hold a
-- valid certificate at the end of the warehouse's last month.
with latest as (
    select *
    from {{ ref('ocop_ratings') }}
    qualify row_number() over (partition by khoa_san_pham order by ngay_quyet_dinh desc, so_quyet_dinh desc) = 1
),
as_of as (
    select max(ngay_cuoi_thang) as ngay_tinh from {{ ref('dim_period') }}
)
select
    l.ma_tinh,
    l.ten_tinh,
    l.nhom_san_pham,
    l.so_sao,
    bool_or(l.la_san_pham_ocop) as la_san_pham_ocop,
    count(*) as so_san_pham,
    count_if(a.ngay_tinh between l.hieu_luc_tu and l.hieu_luc_den) as so_san_pham_con_hieu_luc,
    any_value(a.ngay_tinh) as ngay_tinh
from latest as l
cross join as_of as a
group by l.ma_tinh, l.ten_tinh, l.nhom_san_pham, l.so_sao
