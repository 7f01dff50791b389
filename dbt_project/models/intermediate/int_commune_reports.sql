-- One row per current submission: criteria as counted from its TieuChi rows beside the totals the
-- commune declared in TongHop.
with current_submissions as (
    select * from {{ ref('int_submission_versions') }} where is_current
),

criteria_sets as (select bo_tieu_chi, so_tieu_chi from {{ ref('criteria_sets') }}),

titles as (select danh_hieu, bac from {{ ref('titles') }}),

criteria_counted as (
    select submission_id, count_if(dat) as so_tieu_chi_dat, count(*) as so_dong_tieu_chi
    from {{ ref('stg_criteria_status') }}
    group by submission_id
),

declared as (
    select
        submission_id,
        {%- for key, kind in [
            ('so_tieu_chi_dat', 'integer'), ('danh_hieu', 'varchar'), ('so_quyet_dinh_cong_nhan', 'varchar'),
            ('ngay_cong_nhan', 'date'), ('so_san_pham_ocop', 'integer'), ('so_san_pham_3_sao', 'integer'),
            ('so_san_pham_4_sao', 'integer'), ('so_san_pham_5_sao', 'integer'), ('so_thon_kieu_mau', 'integer'),
            ('so_mo_hinh_sxkd_moi', 'integer'), ('so_htx_moi', 'integer'), ('so_tht_moi', 'integer'),
            ('so_dn_moi', 'integer'), ('von_ke_hoach_trieu_dong', 'decimal(38, 4)'),
            ('von_giai_ngan_trieu_dong', 'decimal(38, 4)'), ('xi_mang_tan', 'decimal(38, 4)')] %}
        cast(max(case when truong = '{{ key }}' then gia_tri end) as {{ kind }}) as {{ key }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('stg_declared_totals') }}
    group by submission_id
)

select
    s.submission_id,
    s.era,
    s.ma_xa,
    s.ten_xa,
    s.ma_tinh as ma_tinh_khai_bao,
    s.ky_bao_cao,
    s.thang_ky,
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
