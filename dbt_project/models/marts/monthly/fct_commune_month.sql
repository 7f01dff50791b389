-- Commune × month for every commune in scope: stocks as of the month's end from the commune's
-- latest submission at or before it (within the month's era), flows of submissions attributed
-- to the month (a period coarser than a month is attributed to its last month). Only submissions
-- whose flows count (int_commune_reports.tinh_dong_chay: the finest kind) add flows, so monthly
-- reports beside a half-year report are not counted twice; any submission makes co_bao_cao.
-- Incremental by month: a Dagster partition run rebuilds only its window (macros/incremental.sql).
with scope as (select * from {{ ref('int_scope_month') }} where {{ month_window('thang_ky') }}),

-- Stocks of a month may come from any earlier submission, so the lookback starts at the beginning.
reports as (select * from {{ ref('int_commune_reports') }} where {{ up_to_window_end('thang_ky') }}),

-- When two periods end in the same month (2020-06 and 2020-H1), the later-prepared one holds stocks.
stock_reports as (
    select * from reports
    qualify row_number() over (
        partition by era, ma_xa, thang_ky order by ngay_lap desc, arrived_at desc, submission_id desc
    ) = 1
),

month_flows as (
    select
        era,
        ma_xa,
        thang_ky,
        sum(so_mo_hinh_sxkd_moi) filter (where tinh_dong_chay) as so_mo_hinh_sxkd_moi,
        sum(so_htx_moi) filter (where tinh_dong_chay) as so_htx_moi,
        sum(so_tht_moi) filter (where tinh_dong_chay) as so_tht_moi,
        sum(so_dn_moi) filter (where tinh_dong_chay) as so_dn_moi,
        sum(von_ke_hoach_trieu_dong) filter (where tinh_dong_chay) as von_ke_hoach_trieu_dong,
        sum(von_giai_ngan_trieu_dong) filter (where tinh_dong_chay) as von_giai_ngan_trieu_dong,
        sum(xi_mang_tan) filter (where tinh_dong_chay) as xi_mang_tan
    from reports
    where {{ month_window('thang_ky') }}
    group by era, ma_xa, thang_ky
),

as_of as (
    select
        scope.*,
        stock.submission_id as submission_id_so_lieu,
        stock.thang_ky as thang_ky_so_lieu,
        stock.bo_tieu_chi,
        stock.so_tieu_chi_bo,
        stock.so_tieu_chi_dat,
        stock.so_tieu_chi_dat_khai_bao,
        stock.danh_hieu,
        stock.bac_danh_hieu,
        stock.so_quyet_dinh_cong_nhan,
        stock.ngay_cong_nhan,
        stock.so_thon_kieu_mau
    from scope
    asof left join stock_reports as stock
        on stock.era = scope.era
        and stock.ma_xa = scope.ma_xa
        and scope.thang_ky >= stock.thang_ky
),

-- Products are identified within their commune (khoa_san_pham carries era and ma_xa) and counted
-- distinct: the same product listed twice in one submission counts once.
ocop_valid as (
    select
        a.era,
        a.ma_xa,
        a.thang_ky,
        count(distinct case when o.so_sao = 3 then o.khoa_san_pham end) as so_san_pham_ocop_3_sao,
        count(distinct case when o.so_sao = 4 then o.khoa_san_pham end) as so_san_pham_ocop_4_sao,
        count(distinct case when o.so_sao = 5 then o.khoa_san_pham end) as so_san_pham_ocop_5_sao
    from as_of as a
    inner join {{ ref('int_ocop_listings_keyed') }} as o
        on o.submission_id = a.submission_id_so_lieu
        and {{ ocop_valid_on('o', 'last_day(a.thang_ky)') }}
    group by a.era, a.ma_xa, a.thang_ky
)

select
    a.thang_ky,
    strftime(a.thang_ky, '%Y-%m') as thang,
    a.era,
    a.ma_xa,
    a.ten_xa,
    a.ma_huyen_hieu_luc as ma_huyen,
    a.ten_huyen,
    a.ma_tinh,
    a.ten_tinh,
    a.nguon_pham_vi,
    a.co_trong_danh_muc,
    f.ma_xa is not null as co_bao_cao,
    a.submission_id_so_lieu,
    a.thang_ky_so_lieu,
    a.bo_tieu_chi,
    a.so_tieu_chi_bo,
    a.so_tieu_chi_dat,
    a.so_tieu_chi_dat_khai_bao,
    a.danh_hieu,
    a.bac_danh_hieu,
    a.so_quyet_dinh_cong_nhan,
    a.ngay_cong_nhan,
    case when a.submission_id_so_lieu is not null then coalesce(o.so_san_pham_ocop_3_sao, 0) end as so_san_pham_ocop_3_sao,
    case when a.submission_id_so_lieu is not null then coalesce(o.so_san_pham_ocop_4_sao, 0) end as so_san_pham_ocop_4_sao,
    case when a.submission_id_so_lieu is not null then coalesce(o.so_san_pham_ocop_5_sao, 0) end as so_san_pham_ocop_5_sao,
    a.so_thon_kieu_mau,
    f.so_mo_hinh_sxkd_moi,
    f.so_htx_moi,
    f.so_tht_moi,
    f.so_dn_moi,
    f.von_ke_hoach_trieu_dong,
    f.von_giai_ngan_trieu_dong,
    f.xi_mang_tan
from as_of as a
left join month_flows as f on f.era = a.era and f.ma_xa = a.ma_xa and f.thang_ky = a.thang_ky
left join ocop_valid as o on o.era = a.era and o.ma_xa = a.ma_xa and o.thang_ky = a.thang_ky
