with source as (select * from {{ source('raw', 'tieu_chi') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        {{ cast_columns('tieu_chi') }},
        ghi_chu,
        file_sha256,
        source_sheet,
        source_row
    from source
)

select * from renamed
