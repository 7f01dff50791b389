-- One row per month the warehouse covers, with its quarter, half-year and year.
select
    thang_ky,
    strftime(thang_ky, '%Y-%m') as thang,
    year(thang_ky) as nam,
    quarter(thang_ky) as quy,
    case when month(thang_ky) <= 6 then 1 else 2 end as nua_nam,
    month(thang_ky) as thang_trong_nam,
    last_day(thang_ky) as ngay_cuoi_thang,
    {{ era_of('thang_ky') }} as era
from {{ ref('int_months') }}
