-- STAGING_CAST_FAILED: a raw cell that staging could not read as its type (staging uses try_cast,
-- so one file's bad cell never fails the build; issue 10). One finding per cell, naming its file,
-- sheet, row and column. The typed columns are listed once, in macros/casts.sql.
-- Columns as audit_findings (without muc_do_mac_dinh: the policy decides).
{% set parts = [] %}
{% for table, columns in staging_casts().items() %}
{% for name, raw, expr, kind in columns %}
{% set ky = "tu_thang || '..' || den_thang" if table == 'claims' else 'ky_bao_cao' %}
{% set cap = "cap" if table == 'claims' else "'xa'" %}
{% set unit = "coalesce(ma_don_vi, '')" if table == 'claims' else "coalesce(ma_xa, '')" %}
{% do parts.append(
    "select " ~ cap ~ " as cap, " ~ unit ~ " as ma_don_vi, coalesce(" ~ ky ~ ", '') as ky, '" ~ raw ~ "' as cot, "
    ~ raw ~ " as gia_tri_goc, '" ~ kind ~ "' as kieu, file_sha256, source_sheet, source_row from "
    ~ source('raw', table) ~ " where " ~ raw ~ " is not null and try_cast(" ~ expr ~ " as " ~ kind ~ ") is null"
) %}
{% endfor %}
{% endfor %}
{% for key, kind in declared_total_kinds() if kind != 'varchar' %}
{% do parts.append(
    "select 'xa', coalesce(ma_xa, ''), coalesce(ky_bao_cao, ''), '" ~ key ~ "', gia_tri, '" ~ kind
    ~ "', file_sha256, source_sheet, source_row from " ~ source('raw', 'tong_hop')
    ~ " where truong = '" ~ key ~ "' and gia_tri is not null and try_cast(gia_tri as " ~ kind ~ ") is null"
) %}
{% endfor %}

with failed as (
    {{ parts | join('\n    union all\n    ') }}
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
