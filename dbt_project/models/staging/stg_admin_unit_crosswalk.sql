with source as (select * from {{ source('ref', 'admin_unit_crosswalk') }}),

renamed as (
    select
        ma_xa_cu,
        ma_xa_moi,
        ma_tinh_moi,
        is_default,
        is_divided
    from source
)

select * from renamed
