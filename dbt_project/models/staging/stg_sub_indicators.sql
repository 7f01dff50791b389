with source as (select * from {{ source('raw', 'chi_tieu') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        ma_chi_tieu,
        {{ cast_columns('chi_tieu') }},
        don_vi,
        file_sha256,
        source_sheet,
        source_row
    from source
)

select * from renamed
