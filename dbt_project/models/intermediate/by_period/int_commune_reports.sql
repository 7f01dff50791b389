-- One row per current submission: criteria as counted from its TieuChi rows beside the totals the
-- commune declared in TongHop, with the months its period spans and whether its flows count.
-- Flows are never counted twice (contract §2): where submissions of a commune of different kinds
-- cover the same months, the finest kind counts. A submission's flows count (tinh_dong_chay) only
-- when no finer submission of the same commune (era, ma_xa) covers any month of its period; a
-- coarser one that finer ones cover even partly is left out whole (its months are not split), and
-- audit_commune_detail compares it with the finer ones (FLOW_PERIOD_OVERLAP_MISMATCH).
-- Incremental from NTM_FROM_MONTH (macros/incremental.sql): a finer report that changes a row's
-- tinh_dong_chay starts at or after the row's first month, so rows ending before the rebuilt months
-- keep theirs, and the rebuilt rows look for finer reports among the kept rows too.
with current_submissions as (
    select * from {{ ref('int_submission_versions') }} where is_current and {{ from_month('thang_ky') }}
),

criteria_sets as (select bo_tieu_chi, so_tieu_chi from {{ ref('criteria_sets') }}),

titles as (select danh_hieu, bac from {{ ref('titles') }}),

criteria_counted as (
    select submission_id, count_if(dat) as so_tieu_chi_dat, count(*) as so_dong_tieu_chi
    from {{ ref('stg_criteria_status') }}
    where submission_id in (select submission_id from current_submissions)
    group by submission_id
),

declared as (
    select
        submission_id,
        {%- for key, kind in declared_total_kinds() %}
        try_cast(max(case when truong = '{{ key }}' then gia_tri end) as {{ kind }}) as {{ key }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_declared_totals') }}
    where submission_id in (select submission_id from current_submissions)
    group by submission_id
),

reports as (
select
    s.submission_id,
    s.era,
    s.ma_xa,
    s.ten_xa,
    s.ma_tinh as ma_tinh_khai_bao,
    s.ky_bao_cao,
    s.thang_ky,
    {{ period_kind('s.ky_bao_cao') }} as loai_ky,
    {{ period_months('s.ky_bao_cao') }} as so_thang_ky,
    cast(s.thang_ky - to_months({{ period_months('s.ky_bao_cao') }} - 1) as date) as thang_ky_dau,
    s.bo_tieu_chi,
    sets.so_tieu_chi as so_tieu_chi_bo,
    c.so_tieu_chi_dat,
    d.so_tieu_chi_dat as so_tieu_chi_dat_khai_bao,
    coalesce(d.danh_hieu, 'Chưa đạt') as danh_hieu,
    coalesce(t.bac, 0) as bac_danh_hieu,
    d.so_quyet_dinh_cong_nhan,
    d.ngay_cong_nhan,
    d.so_san_pham_ocop as so_san_pham_ocop_khai_bao,
    d.so_san_pham_3_sao as so_san_pham_3_sao_khai_bao,
    d.so_san_pham_4_sao as so_san_pham_4_sao_khai_bao,
    d.so_san_pham_5_sao as so_san_pham_5_sao_khai_bao,
    d.so_thon_kieu_mau,
    d.so_mo_hinh_sxkd_moi,
    d.so_htx_moi,
    d.so_tht_moi,
    d.so_dn_moi,
    d.von_ke_hoach_trieu_dong,
    d.von_giai_ngan_trieu_dong,
    d.xi_mang_tan,
    s.ngay_lap,
    s.arrived_at,
    s.file_sha256,
    s.file_name
from current_submissions as s
inner join criteria_sets as sets using (bo_tieu_chi)
left join criteria_counted as c using (submission_id)
left join declared as d using (submission_id)
left join titles as t on t.danh_hieu = d.danh_hieu
),

finer_candidates as (
    select era, ma_xa, so_thang_ky, thang_ky, thang_ky_dau from reports
    {%- if from_month_active() %}
    union all
    select era, ma_xa, so_thang_ky, thang_ky, thang_ky_dau from {{ this }}  -- rows kept (pre-hook)
    {%- endif %}
)

select
    r.*,
    not exists (
        select 1 from finer_candidates as finer
        where finer.era = r.era and finer.ma_xa = r.ma_xa and finer.so_thang_ky < r.so_thang_ky
          and finer.thang_ky >= r.thang_ky_dau and finer.thang_ky_dau <= r.thang_ky
    ) as tinh_dong_chay
from reports as r
