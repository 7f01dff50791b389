-- Claims ranked within their statement (unit, range, metric): a later-arriving file restates and
-- supersedes the earlier figure. Both stay on record.
with claims as (select * from {{ ref('stg_claims') }}),

files as (select file_sha256, arrived_at from {{ ref('stg_files') }})

select
    claims.*,
    files.arrived_at,
    row_number() over (
        partition by claims.cap, claims.ma_don_vi, claims.tu_thang, claims.den_thang, claims.chi_so
        order by files.arrived_at desc, claims.file_sha256 desc, claims.source_row desc
    ) = 1 as is_current
from claims
inner join files using (file_sha256)
-- a claim whose months failed their cast is a STAGING_CAST_FAILED finding, not a claim on no range
where claims.tu_thang_ky is not null and claims.den_thang_ky is not null
