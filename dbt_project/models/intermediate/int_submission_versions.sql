-- Every accepted submission, ranked within its commune and period: the latest `ngay_lap`, then the
-- latest arrival, supersedes the others (contract §1). All versions stay queryable.
with submissions as (select * from {{ ref('stg_submissions') }}),

files as (select file_sha256, arrived_at from {{ ref('stg_files') }}),

ranked as (
    select
        submissions.*,
        files.arrived_at,
        {{ era_of('submissions.thang_ky') }} as era,
        row_number() over (
            partition by submissions.ma_xa, submissions.ky_bao_cao
            order by submissions.ngay_lap desc, files.arrived_at desc, submissions.submission_id desc
        ) as phien_ban_thu
    from submissions
    inner join files using (file_sha256)
)

select *, phien_ban_thu = 1 as is_current from ranked
