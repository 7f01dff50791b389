with source as (select * from {{ source('ref', 'roster') }}),

renamed as (
    select
        ma_xa,
        ten_xa,
        ma_huyen,
        ma_tinh,
        try_cast(tu_thang || '-01' as date) as tu_thang_ky,
        try_cast(den_thang || '-01' as date) as den_thang_ky
    from source
)

select * from renamed
