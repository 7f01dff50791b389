-- Reporting completeness of every unit and month: communes in scope against communes with a
-- submission attributed to the month.
select
    m.cap,
    m.ma_don_vi,
    m.ten_don_vi,
    m.thang,
    m.thang_ky,
    m.so_xa,
    m.so_xa_co_bao_cao,
    m.so_xa - m.so_xa_co_bao_cao as so_xa_chua_bao_cao,
    m.so_xa_co_bao_cao * 100.0 / nullif(m.so_xa, 0) as ty_le_co_bao_cao
from {{ ref('mart_unit_month') }} as m
