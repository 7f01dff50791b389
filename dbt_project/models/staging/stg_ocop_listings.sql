with source as (select * from {{ source('raw', 'ocop') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        ma_san_pham,
        ten_san_pham,
        nhom_san_pham,
        chu_the,
        loai_chu_the,
        so_quyet_dinh,
        {{ cast_columns('ocop') }},
        cap_danh_gia,
        file_sha256,
        source_sheet,
        source_row
    from source
)

select * from renamed
