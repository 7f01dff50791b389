with source as (select * from {{ source('raw', 'tong_hop') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        truong,
        gia_tri,
        file_sha256,
        source_sheet,
        source_row,
        source_column
    from source
)

select * from renamed
