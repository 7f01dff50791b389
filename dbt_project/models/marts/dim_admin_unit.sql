-- Commune-level units of both eras with their district (legacy only) and province, validity, and
-- for legacy units the 2025 unit the crosswalk assigns by default.
select
    u.era,
    u.ma_xa,
    u.ten_xa,
    u.loai_xa,
    u.ma_huyen,
    u.ten_huyen,
    u.loai_huyen,
    u.ma_tinh,
    u.ten_tinh,
    u.valid_from,
    u.valid_to,
    u.vi_do,
    u.kinh_do,
    x.ma_xa_moi as ma_xa_2025,
    x.ma_tinh_moi as ma_tinh_2025,
    coalesce(x.is_divided, false) as bi_chia_tach
from {{ ref('stg_admin_units') }} as u
left join {{ ref('stg_admin_unit_crosswalk') }} as x
    on u.era = 'legacy' and x.ma_xa_cu = u.ma_xa and x.is_default
