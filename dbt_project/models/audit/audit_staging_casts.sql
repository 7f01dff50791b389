-- STAGING_CAST_FAILED: a raw cell that staging could not read as its type (staging uses try_cast,
-- so one file's bad cell never fails the build; issue 10). One finding per cell, naming its file,
-- sheet, row and column. The typed columns are listed once, in macros/casts.sql.
-- Each raw table is scanned once (raw.tieu_chi and raw.tong_hop hold millions of rows nationally):
-- rows with any failed cell first, then one finding per failed cell.
-- Columns as audit_findings (without muc_do_mac_dinh: the policy decides).
{% set parts = [] %}
{% for table, columns in staging_casts().items() %}
{% set ky = "tu_thang || '..' || den_thang" if table == 'claims' else 'ky_bao_cao' %}
{% set cap = "cap" if table == 'claims' else "'xa'" %}
{% set unit = "coalesce(ma_don_vi, '')" if table == 'claims' else "coalesce(ma_xa, '')" %}
{% set checks = [] %}
{% set conditions = [] %}
{% for name, raw, expr, kind in columns %}
{% set failed = '(' ~ raw ~ ' is not null and try_cast(' ~ expr ~ ' as ' ~ kind ~ ') is null)' %}
{% do conditions.append(failed) %}
{% do checks.append("{'cot': '" ~ raw ~ "', 'gia_tri_goc': " ~ raw ~ ", 'kieu': '" ~ kind ~ "', 'sai': " ~ failed ~ "}") %}
{% endfor %}
{% do parts.append(
    "select " ~ cap ~ " as cap, " ~ unit ~ " as ma_don_vi, coalesce(" ~ ky ~ ", '') as ky, file_sha256, source_sheet, "
    ~ "source_row, unnest([" ~ checks | join(', ') ~ "]) as o from " ~ source('raw', table)
    ~ " where " ~ conditions | join(' or ')
) %}
{% endfor %}
{% set totals = declared_total_kinds() | rejectattr(1, 'equalto', 'varchar') | list %}
{% set total_failed %}
case truong
    {%- for key, kind in totals %}
    when '{{ key }}' then try_cast(gia_tri as {{ kind }}) is null
    {%- endfor %}
    else false
end
{% endset %}
{% set total_kind %}
case truong {% for key, kind in totals %}when '{{ key }}' then '{{ kind }}' {% endfor %}end
{% endset %}
{% do parts.append(
    "select 'xa', coalesce(ma_xa, ''), coalesce(ky_bao_cao, ''), file_sha256, source_sheet, source_row, "
    ~ "{'cot': truong, 'gia_tri_goc': gia_tri, 'kieu': " ~ total_kind ~ ", 'sai': true} from " ~ source('raw', 'tong_hop')
    ~ " where gia_tri is not null and " ~ total_failed
) %}

with cells as (
    {{ parts | join('\n    union all\n    ') }}
),

failed as (
    select cap, ma_don_vi, ky, file_sha256, source_sheet, source_row,
           o.cot as cot, o.gia_tri_goc as gia_tri_goc, o.kieu as kieu
    from cells
    where o.sai
),

files as (select file_sha256, file_name from {{ ref('stg_files') }})

select
    'STAGING_CAST_FAILED' as ma_kiem_tra,
    f.cap,
    f.ma_don_vi,
    f.ky,
    null::double as gia_tri_bao_cao,
    null::double as gia_tri_tinh_toan,
    'Giá trị "' || f.gia_tri_goc || '" ở cột ' || f.cot || ' không đọc được là ' || f.kieu
        || ' (' || coalesce(files.file_name, f.file_sha256) || coalesce(', sheet ' || f.source_sheet, '')
        || coalesce(', dòng ' || f.source_row, '') || ', cột ' || f.cot || ') (staging cast failed; the cell is left empty)'
        as mo_ta,
    f.file_sha256 || ':' || coalesce(f.source_sheet, '') || ':' || coalesce(cast(f.source_row as varchar), '') || ':' || f.cot
        as khoa
from failed as f
left join files using (file_sha256)
