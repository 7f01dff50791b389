-- Each commune's titles as spells of consecutive months (gaps and islands): when it first held a
-- title, until when, and by which decision.
with months as (
    select
        era, ma_xa, ten_xa, ma_huyen, ten_huyen, ma_tinh, ten_tinh, thang, thang_ky,
        danh_hieu, bac_danh_hieu, so_quyet_dinh_cong_nhan, ngay_cong_nhan,
        row_number() over (partition by era, ma_xa order by thang_ky)
            - row_number() over (partition by era, ma_xa, danh_hieu, so_quyet_dinh_cong_nhan order by thang_ky)
            as spell
    from {{ ref('fct_commune_month') }}
    where danh_hieu is not null
)
select
    era,
    ma_xa,
    any_value(ten_xa) as ten_xa,
    any_value(ma_huyen) as ma_huyen,
    any_value(ten_huyen) as ten_huyen,
    any_value(ma_tinh) as ma_tinh,
    any_value(ten_tinh) as ten_tinh,
    danh_hieu,
    any_value(bac_danh_hieu) as bac_danh_hieu,
    so_quyet_dinh_cong_nhan,
    any_value(ngay_cong_nhan) as ngay_cong_nhan,
    min(thang) as tu_thang,
    max(thang) as den_thang,
    count(*) as so_thang
from months
group by era, ma_xa, danh_hieu, so_quyet_dinh_cong_nhan, spell
