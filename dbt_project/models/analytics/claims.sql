-- Every stated number beside the computed one, the unit named, the difference, and where it came from.
select
    c.claim_id,
    c.cap,
    c.ma_don_vi,
    u.ten_don_vi,
    c.tu_thang,
    c.den_thang,
    c.chi_so,
    c.gia_tri_bao_cao,
    c.gia_tri_tinh_toan,
    c.gia_tri_tinh_toan - c.gia_tri_bao_cao as chenh_lech,
    c.so_chu_so_thap_phan,
    c.khop,
    c.co_don_vi,
    c.nguon,
    c.file_name,
    c.source_sheet,
    c.source_row
from {{ ref('claim_reconciliation') }} as c
left join {{ ref('mart_unit_month') }} as u
    on u.cap = c.cap and u.ma_don_vi = c.ma_don_vi and u.thang = c.den_thang
