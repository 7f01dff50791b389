-- Every accepted submission, ranked within its commune and period: the latest `ngay_lap`, then the
-- latest arrival, supersedes the others (contract §1). All versions stay queryable.
-- A submission prepared (ngay_lap) more than a day after the warehouse received it is impossible
-- (a typing slip such as 2029): the ingest quarantines it, and should one get here it never wins,
-- or it would supersede every correction forever. A row whose period failed its cast
-- (STAGING_CAST_FAILED) is left out: it belongs to no month. Incremental from NTM_FROM_MONTH
-- (macros/incremental.sql): the versions of a commune and period share its period end.
with submissions as (select * from {{ ref('stg_submissions') }} where thang_ky is not null and {{ from_month('thang_ky') }}),

files as (select file_sha256, arrived_at, arrived_at_local from {{ ref('stg_files') }}),

ranked as (
    select
        submissions.*,
        files.arrived_at,
        files.arrived_at_local,
        {{ era_of('submissions.thang_ky') }} as era,
        coalesce(submissions.ngay_lap > cast(files.arrived_at_local as date) + 1, false) as ngay_lap_sau_khi_nhan,
        row_number() over (
            partition by {{ era_of('submissions.thang_ky') }}, submissions.ma_xa, submissions.ky_bao_cao
            order by
                coalesce(submissions.ngay_lap > cast(files.arrived_at_local as date) + 1, false),
                submissions.ngay_lap desc, files.arrived_at desc, submissions.submission_id desc
        ) as phien_ban_thu
    from submissions
    inner join files using (file_sha256)
)

select *, phien_ban_thu = 1 as is_current from ranked
