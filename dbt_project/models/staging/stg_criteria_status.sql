with source as (select * from {{ source('raw', 'tieu_chi') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        cast(tieu_chi as integer) as tieu_chi,
        cast(trang_thai as boolean) as dat,
        ghi_chu,
        file_sha256,
        source_sheet,
        source_row
    from source
)

select * from renamed
