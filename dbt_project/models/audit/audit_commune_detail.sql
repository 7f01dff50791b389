-- Checks of one commune's submission against its own detail and the reference seeds:
--   SUB_INDICATOR_BELOW_THRESHOLD  a criterion declared met while its own sub-indicator (ChiTieu)
--                                  misses the threshold of its criteria set (seed sub_indicator_thresholds)
--   OCOP_CERTIFICATE_EXPIRED       an OCOP product listed as valid at the period's end whose
--                                  certificate (36 months from the decision) had already expired
--   FLOW_PERIOD_OVERLAP_MISMATCH   a coarser submission (quarter, half-year, year) whose months finer
--                                  submissions of the commune also cover: the finer ones' flows count
--                                  (int_commune_reports.tinh_dong_chay); the coarser one's flows differ
--                                  from their sum over its period, naming both files
-- Columns as audit_findings (without muc_do_mac_dinh: the policy decides).
{% set flows = ['so_mo_hinh_sxkd_moi', 'so_htx_moi', 'so_tht_moi', 'so_dn_moi', 'von_ke_hoach_trieu_dong',
                'von_giai_ngan_trieu_dong', 'xi_mang_tan'] %}

with reports as (select * from {{ ref('int_commune_reports') }}),

thresholds as (select * from {{ ref('sub_indicator_thresholds') }}),

sub_indicator_below_threshold as (
    select
        'SUB_INDICATOR_BELOW_THRESHOLD' as ma_kiem_tra,
        'xa' as cap,
        r.ma_xa as ma_don_vi,
        r.ky_bao_cao as ky,
        v.gia_tri as gia_tri_bao_cao,
        cast(t.nguong as double) as gia_tri_tinh_toan,
        'Xã khai đạt tiêu chí ' || t.tieu_chi || ' nhưng chỉ tiêu ' || t.ma_chi_tieu || ' (' || t.ten_chi_tieu
            || ') là ' || cast(v.gia_tri as varchar) || ' ' || t.don_vi || ', ngưỡng ' || t.phep_so_sanh || ' '
            || cast(t.nguong as varchar) || ' (criterion declared met but its sub-indicator misses the threshold of set '
            || r.bo_tieu_chi || '; ' || r.file_name || ', dòng ' || v.source_row || ')' as mo_ta,
        r.submission_id || ':' || t.ma_chi_tieu as khoa
    from reports as r
    inner join {{ ref('stg_sub_indicators') }} as v using (submission_id)
    inner join thresholds as t
        on t.bo_tieu_chi = r.bo_tieu_chi and t.ma_chi_tieu = replace(trim(v.ma_chi_tieu), ',', '.')
    inner join {{ ref('stg_criteria_status') }} as c
        on c.submission_id = r.submission_id and c.tieu_chi = t.tieu_chi and c.dat
    where v.gia_tri is not null
      and ((t.phep_so_sanh = '>=' and v.gia_tri < t.nguong) or (t.phep_so_sanh = '<=' and v.gia_tri > t.nguong))
),

-- The OCOP sheet lists products valid at the period's end (contract §1); an expired one is not
-- counted by the warehouse. If the commune's own totals still count it, OCOP_DECLARED_MISMATCH fires too.
ocop_certificate_expired as (
    select
        'OCOP_CERTIFICATE_EXPIRED', 'xa', r.ma_xa, r.ky_bao_cao,
        null::double,
        cast(date_diff('month', o.ngay_quyet_dinh, last_day(r.thang_ky)) as double),
        'Sản phẩm OCOP "' || coalesce(o.ten_san_pham, o.ma_san_pham, '?') || '" (' || coalesce(o.so_sao || ' sao', '')
            || ', quyết định ' || coalesce(o.so_quyet_dinh, '?') || ' ngày ' || strftime(o.ngay_quyet_dinh, '%d/%m/%Y')
            || ') hết hiệu lực ngày ' || strftime(o.het_hieu_luc, '%d/%m/%Y') || ', vẫn được khai ở kỳ ' || r.ky_bao_cao
            || ' (OCOP certificate expired after 36 months but still listed; ' || r.file_name || ', dòng '
            || o.source_row || ')',
        o.submission_id || ':' || coalesce(o.ma_san_pham, o.ten_san_pham, cast(o.source_row as varchar))
    from reports as r
    inner join {{ ref('int_ocop_listings_current') }} as o using (submission_id)
    where o.het_hieu_luc <= last_day(r.thang_ky)
),

-- The finer submissions whose flows count, within each coarser submission they overlap.
overlapped as (
    select
        coarse.submission_id, coarse.ma_xa, coarse.ky_bao_cao, coarse.file_name, coarse.so_thang_ky,
        count(distinct fine.thang_ky) as so_ky_chi_tiet,
        sum(fine.so_thang_ky) as so_thang_chi_tiet,
        string_agg(distinct fine.file_name, ', ' order by fine.file_name) as tep_chi_tiet,
        string_agg(fine.ky_bao_cao, ', ' order by fine.thang_ky) as ky_chi_tiet,
        {%- for flow in flows %}
        any_value(coarse.{{ flow }}) as {{ flow }}__tho,
        sum(fine.{{ flow }}) as {{ flow }}__chi_tiet{{ ',' if not loop.last }}
        {%- endfor %}
    from reports as coarse
    inner join reports as fine
        on fine.era = coarse.era and fine.ma_xa = coarse.ma_xa and fine.tinh_dong_chay
        and fine.so_thang_ky < coarse.so_thang_ky
        and fine.thang_ky_dau >= coarse.thang_ky_dau and fine.thang_ky <= coarse.thang_ky
    where not coarse.tinh_dong_chay
    group by coarse.submission_id, coarse.ma_xa, coarse.ky_bao_cao, coarse.file_name, coarse.so_thang_ky
),

flow_period_overlap_mismatch as (
    {%- for flow in flows %}
    select
        'FLOW_PERIOD_OVERLAP_MISMATCH', 'xa', ma_xa, ky_bao_cao,
        cast({{ flow }}__tho as double),
        cast(coalesce({{ flow }}__chi_tiet, 0) as double),
        'Kỳ ' || ky_bao_cao || ' (' || file_name || ') khai {{ flow }} = ' || cast({{ flow }}__tho as varchar)
            || ' nhưng các kỳ chi tiết hơn ' || ky_chi_tiet || ' (' || tep_chi_tiet || ') cộng lại '
            || cast(coalesce({{ flow }}__chi_tiet, 0) as varchar) || ', phủ ' || so_thang_chi_tiet || '/' || so_thang_ky
            || ' tháng; số liệu kỳ chi tiết được tính (a coarser report disagrees with the finer reports of the '
            || 'same months; the finer ones count, the coarser one is not added)',
        submission_id || ':{{ flow }}'
    from overlapped
    where {{ flow }}__tho is not null and {{ flow }}__tho <> coalesce({{ flow }}__chi_tiet, 0)
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from sub_indicator_below_threshold
union all select * from ocop_certificate_expired
union all select * from flow_period_overlap_mismatch
