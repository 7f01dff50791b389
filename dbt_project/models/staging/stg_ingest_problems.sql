with source as (select * from {{ source('raw', 'ingest_problems') }}),

renamed as (
    select
        file_sha256,
        file_name,
        sheet,
        "row" as row_number,
        "column" as column_name,
        rule,
        severity,
        message,
        ma_xa,
        ky_bao_cao,
        found_at
    from source
)

select * from renamed
