-- The months the warehouse covers: from the earliest to the latest month of any submission or claim.
with bounds as (
    select min(thang_ky) as first_month, max(thang_ky) as last_month
    from (
        select thang_ky from {{ ref('stg_submissions') }}
        union all select tu_thang_ky from {{ ref('stg_claims') }}
        union all select den_thang_ky from {{ ref('stg_claims') }}
    )
)

select cast(month_start as date) as thang_ky
from bounds, range(bounds.first_month, bounds.last_month + interval 1 month, interval 1 month) as t(month_start)
where bounds.first_month is not null
