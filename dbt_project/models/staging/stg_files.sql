with source as (select * from {{ source('raw', 'files') }}),

renamed as (
    select
        file_sha256,
        file_name,
        kind as file_kind,
        arrived_at,
        -- receipt time as a wall clock in Viet Nam: deadlines and ngay_lap are local dates
        {{ local_time('arrived_at') }} as arrived_at_local,
        ingested_at,
        status as file_status,
        stored_path,
        n_errors,
        n_warnings
    from source
)

select * from renamed
