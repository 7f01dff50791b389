with source as (select * from {{ source('raw', 'claims') }}),

renamed as (
    select
        claim_id,
        cap,
        coalesce(ma_don_vi, '') as ma_don_vi,
        tu_thang,
        den_thang,
        cast(tu_thang || '-01' as date) as tu_thang_ky,
        cast(den_thang || '-01' as date) as den_thang_ky,
        chi_so,
        cast(gia_tri as decimal(38, 10)) as gia_tri,
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
