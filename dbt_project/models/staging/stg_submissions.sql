with source as (select * from {{ source('raw', 'submissions') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        bo_tieu_chi,
        ten_xa,
        ma_tinh,
        nguoi_lap,
        {{ cast_columns('submissions') }},
        file_sha256,
        file_name,
        source_sheet,
        source_row
    from source
)

select * from renamed
