-- Every finding of the SQL checks, one row each, with a stable key. Severity is not decided here:
-- the policy file (pipelines/quality/policy.toml) maps each check code to error or warning.
-- Checks are here (claims, scope, a commune against its declared totals, ingest problems) and in
-- the other audit models, unioned below: audit_commune_detail (sub-indicators, expired OCOP
-- certificates), audit_reporting (completeness, timeliness), audit_over_time (criteria drops,
-- outliers, year-on-year change), audit_cross_level (levels of the marts and of the claims),
-- audit_staging_casts (cells staging could not cast), audit_roster (bad roster cells, with their own severity).

with reports as (select * from {{ ref('int_commune_reports') }}),

units as (select * from {{ ref('stg_admin_units') }}),

roster as (select * from {{ ref('stg_roster') }}),

scope as (select * from {{ ref('int_scope_month') }}),

claims as (select * from {{ ref('claim_reconciliation') }}),

files as (select * from {{ ref('stg_files') }}),

accepted_submissions as (
    select s.ma_xa, s.ky_bao_cao, f.arrived_at, f.file_name
    from {{ ref('stg_submissions') }} as s
    inner join files as f using (file_sha256)
    where f.file_status = 'accepted'
),

claim_mismatch as (
    select
        'CLAIM_MISMATCH' as ma_kiem_tra,
        cap,
        ma_don_vi,
        tu_thang || '..' || den_thang as ky,
        cast(gia_tri_bao_cao as double) as gia_tri_bao_cao,
        gia_tri_tinh_toan,
        'Chỉ số ' || chi_so || ' báo cáo ' || gia_tri_goc || ', tính từ số liệu xã được '
            || coalesce(cast(round(gia_tri_tinh_toan, 4) as varchar), 'không có') || ' (' || file_name
            || ', dòng ' || source_row || ')' as mo_ta,
        chi_so as khoa
    from claims
    where co_don_vi and not khop
),

claim_unknown_unit as (
    select
        'CLAIM_UNKNOWN_UNIT', cap, ma_don_vi, tu_thang || '..' || den_thang,
        cast(gia_tri_bao_cao as double), null::double,
        'Không có xã nào trong phạm vi của ' || cap || ' ' || ma_don_vi || ' tại tháng ' || den_thang
            || ' (no commune in scope for this unit; ' || file_name || ', dòng ' || source_row || ')',
        chi_so
    from claims
    where not co_don_vi and not huyen_da_bai_bo
),

-- Districts were abolished on 1 July 2025: a district claim whose den_thang is later has no unit.
claim_district_abolished as (
    select
        'CLAIM_DISTRICT_ABOLISHED', cap, ma_don_vi, tu_thang || '..' || den_thang,
        cast(gia_tri_bao_cao as double), null::double,
        'Huyện ' || ma_don_vi || ' không còn tại tháng ' || den_thang || ' (cấp huyện bãi bỏ từ 1/7/2025); chỉ số '
            || chi_so || ' báo cáo ' || gia_tri_goc || ' không đối chiếu được (district claim after the 2025 reform: '
            || 'districts were abolished, state it for the province or its communes; ' || file_name || ', dòng '
            || source_row || ')',
        chi_so
    from claims
    where huyen_da_bai_bo
),

unknown_commune as (
    select
        'SUBMISSION_UNKNOWN_COMMUNE', 'xa', r.ma_xa, r.ky_bao_cao, null::double, null::double,
        'Mã xã ' || r.ma_xa || ' không có trong danh mục đơn vị hành chính ' || r.era
            || ' hay danh sách xã (unknown commune code; ' || r.file_name || ')',
        r.submission_id
    from reports as r
    where not exists (select 1 from units as u where u.era = r.era and u.ma_xa = r.ma_xa)
      and not exists (select 1 from roster as ro where ro.ma_xa = r.ma_xa
                    and (ro.tu_thang_ky is null or r.thang_ky >= ro.tu_thang_ky)
                    and (ro.den_thang_ky is null or r.thang_ky <= ro.den_thang_ky))
),

out_of_scope as (
    select
        'SUBMISSION_OUT_OF_SCOPE', 'xa', r.ma_xa, r.ky_bao_cao, null::double, null::double,
        'Xã ' || r.ma_xa || coalesce(' (' || u.ten_xa || ')', '') || ' không thuộc phạm vi báo cáo tháng '
            || strftime(r.thang_ky, '%Y-%m') || ' (commune outside the roster or province scope; '
            || r.file_name || ')',
        r.submission_id
    from reports as r
    left join units as u on u.era = r.era and u.ma_xa = r.ma_xa
    where not exists (
        select 1 from scope as s where s.era = r.era and s.thang_ky = r.thang_ky and s.ma_xa = r.ma_xa
    )
      and (u.ma_xa is not null or exists (select 1 from roster as ro where ro.ma_xa = r.ma_xa
                    and (ro.tu_thang_ky is null or r.thang_ky >= ro.tu_thang_ky)
                    and (ro.den_thang_ky is null or r.thang_ky <= ro.den_thang_ky)))
),

name_mismatch as (
    select
        'SUBMISSION_NAME_MISMATCH', 'xa', s.ma_xa, s.ky_bao_cao, null::double, null::double,
        'Tên xã "' || s.ten_xa || '" không khớp mã ' || s.ma_xa || ' (' || u.ten_xa
            || ') (name does not match the code)',
        s.submission_id
    from reports as s
    inner join units as u on u.era = s.era and u.ma_xa = s.ma_xa
    -- u.name_key is normalize.commune_name_key of the reference name; the same Python fold here
    where s.ten_xa is not null and {{ commune_name_key('s.ten_xa') }} <> u.name_key
),

-- Per era: a roster row's code is looked up in the unit list of the months it applies to.
roster_unknown as (
    select
        'ROSTER_UNIT_NOT_IN_REFERENCE', 'xa', ma_xa, strftime(min(thang_ky), '%Y-%m') || '..' || strftime(max(thang_ky), '%Y-%m'),
        null::double, null::double,
        'Xã ' || ma_xa || coalesce(' (' || any_value(ten_xa) || ')', '') || ' trong danh sách không có trong danh mục hành chính '
            || era || ' (roster unit not in the reference of its months, e.g. merged away)',
        era || ':' || ma_xa
    from scope
    where nguon_pham_vi = 'roster' and not co_trong_danh_muc
    group by era, ma_xa
),

-- A roster row without its commune or province: the Python reader rejects it (contract §3); should one
-- reach ref.roster, it is in no province's scope, and that must not be silent.
roster_incomplete as (
    select
        'ROSTER_ROW_INCOMPLETE', 'xa', coalesce(ma_xa, ''), coalesce(strftime(tu_thang_ky, '%Y-%m'), '') || '..'
            || coalesce(strftime(den_thang_ky, '%Y-%m'), ''), null::double, null::double,
        'Dòng danh sách xã ' || coalesce(ma_xa, '(không mã)') || coalesce(' (' || ten_xa || ')', '') || ' thiếu '
            || concat_ws(', ', case when ma_xa is null then 'ma_xa' end, case when ma_tinh is null then 'ma_tinh' end)
            || ' (roster row without its commune or province code: in no scope; reference/roster.csv)',
        coalesce(ma_xa, '') || ':' || coalesce(ten_xa, '')
    from roster
    where ma_xa is null or ma_tinh is null
),

declared_criteria as (
    select
        'DECLARED_CRITERIA_MISMATCH', 'xa', ma_xa, ky_bao_cao,
        cast(so_tieu_chi_dat_khai_bao as double), cast(so_tieu_chi_dat as double),
        'Xã khai ' || so_tieu_chi_dat_khai_bao || ' tiêu chí đạt nhưng bảng TieuChi có '
            || so_tieu_chi_dat || ' (declared criteria met differ from the TieuChi rows; ' || file_name || ')',
        submission_id
    from reports
    where so_tieu_chi_dat_khai_bao is not null and so_tieu_chi_dat_khai_bao <> so_tieu_chi_dat
),

title_without_decision as (
    select
        'TITLE_WITHOUT_DECISION', 'xa', ma_xa, ky_bao_cao, null::double, null::double,
        'Danh hiệu "' || danh_hieu || '" không có số quyết định công nhận (title without a recognition decision; '
            || file_name || ')',
        submission_id
    from reports
    where bac_danh_hieu >= 1 and (so_quyet_dinh_cong_nhan is null or ngay_cong_nhan is null)
),

title_lost_criteria as (
    select
        'TITLE_LOST_CRITERIA', 'xa', ma_xa, ky_bao_cao, cast(so_tieu_chi_bo as double), cast(so_tieu_chi_dat as double),
        'Xã có danh hiệu "' || danh_hieu || '" nhưng chỉ đạt ' || so_tieu_chi_dat || '/' || so_tieu_chi_bo
            || ' tiêu chí (titled commune has lost criteria)',
        submission_id
    from reports
    where bac_danh_hieu >= 1 and so_tieu_chi_dat < so_tieu_chi_bo
),

-- Products counted distinct within the submission (the same product listed twice counts once);
-- whether a star rating makes an OCOP product is the seed's (ocop_star_bands).
ocop_listed as (
    select
        r.submission_id,
        count(distinct case when cast(b.la_san_pham_ocop as boolean) then o.khoa_san_pham end) as so_san_pham_ocop,
        count(distinct case when o.so_sao = 3 then o.khoa_san_pham end) as so_san_pham_3_sao,
        count(distinct case when o.so_sao = 4 then o.khoa_san_pham end) as so_san_pham_4_sao,
        count(distinct case when o.so_sao = 5 then o.khoa_san_pham end) as so_san_pham_5_sao
    from reports as r
    left join {{ ref('int_ocop_listings_keyed') }} as o
        on o.submission_id = r.submission_id
        and {{ ocop_valid_on('o', 'last_day(r.thang_ky)') }}
    left join {{ ref('ocop_star_bands') }} as b on b.so_sao = o.so_sao
    group by r.submission_id
),

ocop_declared as (
    {%- for key in ['so_san_pham_ocop', 'so_san_pham_3_sao', 'so_san_pham_4_sao', 'so_san_pham_5_sao'] %}
    select
        'OCOP_DECLARED_MISMATCH', 'xa', r.ma_xa, r.ky_bao_cao,
        cast(r.{{ key }}_khai_bao as double), cast(l.{{ key }} as double),
        'Xã khai {{ key }} = ' || r.{{ key }}_khai_bao || ' nhưng bảng OCOP có ' || l.{{ key }}
            || ' sản phẩm còn hiệu lực (declared OCOP count differs from the product rows; ' || r.file_name || ')',
        r.submission_id || ':{{ key }}'
    from reports as r
    inner join ocop_listed as l using (submission_id)
    where r.{{ key }}_khai_bao is not null and r.{{ key }}_khai_bao <> l.{{ key }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- A rejected file's problems stand until the commune and period arrive in an accepted file that
-- arrived later (issue 10); a problem without a commune code stays open until waived.
ingest_problems as (
    select
        'INGEST_' || upper(p.rule) as ma_kiem_tra, 'xa', coalesce(p.ma_xa, ''), coalesce(p.ky_bao_cao, ''), null::double, null::double,
        p.message || ' (' || p.file_name || coalesce(', sheet ' || p.sheet, '') || coalesce(', dòng ' || p.row_number, '')
            || coalesce(', cột ' || p.column_name, '') || ')',
        p.file_sha256 || ':' || coalesce(p.sheet, '') || ':' || coalesce(cast(p.row_number as varchar), '') || ':'
            || coalesce(p.column_name, '') || ':' || p.rule,
        p.severity as muc_do_mac_dinh
    from {{ ref('stg_ingest_problems') }} as p
    inner join files as f using (file_sha256)
    where not exists (
        select 1 from accepted_submissions as a
        where a.arrived_at > f.arrived_at
          and a.ma_xa = p.ma_xa and a.ky_bao_cao = p.ky_bao_cao
    )
)

select *, null::varchar as muc_do_mac_dinh from (
    select * from claim_mismatch
    union all select * from claim_unknown_unit
    union all select * from claim_district_abolished
    union all select * from unknown_commune
    union all select * from out_of_scope
    union all select * from name_mismatch
    union all select * from roster_unknown
    union all select * from roster_incomplete
    union all select * from declared_criteria
    union all select * from title_without_decision
    union all select * from title_lost_criteria
    union all select * from ocop_declared
    union all select * from {{ ref('audit_commune_detail') }}
    union all select * from {{ ref('audit_reporting') }}
    union all select * from {{ ref('audit_over_time') }}
    union all select * from {{ ref('audit_cross_level') }}
    union all select * from {{ ref('audit_staging_casts') }}
)
union all select * from ingest_problems
union all select * from {{ ref('audit_roster') }}
