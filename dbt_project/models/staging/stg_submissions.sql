with source as (select * from {{ source('raw', 'submissions') }}),

renamed as (
    select
        submission_id,
        ma_xa,
        ky_bao_cao,
        cast(thang || '-01' as date) as thang_ky,
        bo_tieu_chi,
        ten_xa,
        ma_tinh,
        cast(ngay_lap as date) as ngay_lap,
        nguoi_lap,
        cast(phien_ban_mau as integer) as phien_ban_mau,
        file_sha256,
        file_name,
        source_sheet,
        source_row
    from source
)

select * from renamed
