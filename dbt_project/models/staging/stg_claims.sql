with source as (select * from {{ source('raw', 'claims') }}),

renamed as (
    select
        claim_id,
        cap,
        coalesce(ma_don_vi, '') as ma_don_vi,
        tu_thang,
        den_thang,
        chi_so,
        {{ cast_columns('claims') }},
        so_chu_so_thap_phan,
        gia_tri_goc,
        nguon,
        file_sha256,
        file_name,
        source_sheet,
        source_row
    from source
)

select * from renamed
