with source as (select * from {{ source('ref', 'admin_units') }}),

renamed as (
    select
        era,
        ma_xa,
        ten_xa,
        loai_xa,
        ma_huyen,
        ten_huyen,
        loai_huyen,
        ma_tinh,
        ten_tinh,
        try_cast(valid_from as date) as valid_from,
        try_cast(valid_to as date) as valid_to,
        name_key,
        cast(vi_do as double) as vi_do,
        cast(kinh_do as double) as kinh_do
    from source
)

select * from renamed
