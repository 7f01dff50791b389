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
        cast(diem as double) as diem,
        cast(so_sao as integer) as so_sao,
        so_quyet_dinh,
        cast(ngay_quyet_dinh as date) as ngay_quyet_dinh,
        cap_danh_gia,
        file_sha256,
        source_sheet,
        source_row
    from source
)

select * from renamed
