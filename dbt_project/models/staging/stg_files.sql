with source as (select * from {{ source('raw', 'files') }}),

renamed as (
    select
        file_sha256,
        file_name,
        kind as file_kind,
        arrived_at,
        ingested_at,
        status as file_status,
        stored_path,
        n_errors,
        n_warnings
    from source
)

select * from renamed
