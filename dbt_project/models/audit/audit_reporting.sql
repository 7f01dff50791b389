-- Reporting below the WHO targets (defaults 90% complete, 75% on time; vars completeness_target,
-- timeliness_target), per district and province and period, from audit_reporting_completeness:
--   REPORTING_INCOMPLETE  communes that sent a report / communes expected, below target
--   REPORTING_LATE        communes whose report arrived by the deadline / communes that reported, below target
with rates as (select * from {{ ref('audit_reporting_completeness') }})

select
    'REPORTING_INCOMPLETE' as ma_kiem_tra,
    cap,
    ma_don_vi,
    ky,
    cast(so_xa_da_bao_cao as double) as gia_tri_bao_cao,
    cast(so_xa_phai_bao_cao as double) as gia_tri_tinh_toan,
    coalesce(ten_don_vi || ': ', '') || so_xa_da_bao_cao || '/' || so_xa_phai_bao_cao || ' xã gửi báo cáo kỳ ' || ky
        || ' (' || cast(ty_le_day_du as varchar) || '%, mục tiêu ' || cast(muc_tieu_day_du as varchar)
        || '%) (reporting completeness below target)' as mo_ta,
    loai_ky as khoa
from rates
where ty_le_day_du < muc_tieu_day_du and cap <> 'xa'  -- a commune's own gap is not an issue per commune

union all

select
    'REPORTING_LATE', cap, ma_don_vi, ky,
    cast(so_xa_dung_han as double),
    cast(so_xa_da_bao_cao as double),
    coalesce(ten_don_vi || ': ', '') || so_xa_dung_han || '/' || so_xa_da_bao_cao || ' xã đã báo cáo kỳ ' || ky
        || ' gửi đúng hạn ' || strftime(han_nop, '%d/%m/%Y') || ' (' || cast(ty_le_dung_han as varchar) || '%, mục tiêu '
        || cast(muc_tieu_dung_han as varchar) || '%) (reporting timeliness below target)',
    loai_ky
from rates
where ty_le_dung_han < muc_tieu_dung_han and cap <> 'xa'
