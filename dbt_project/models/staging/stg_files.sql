with source as (select * from {{ source('raw', 'files') }}),

renamed as (
    select
        file_sha256,
        file_name,
        kind as file_kind,
        -- Received (time-zone aware in raw) as Vietnam's wall clock: deadlines are Vietnamese dates.
        timezone('Asia/Ho_Chi_Minh', arrived_at) as arrived_at,
        timezone('Asia/Ho_Chi_Minh', file_mtime) as file_mtime,
        ingested_at,
        status as file_status,
        stored_path,
        n_errors,
        n_warnings
    from source
)

select * from renamed
