-- OCOP products listed in current submissions, with the end of their certificate's validity:
-- 36 months from the decision date (domain.md). Incremental from NTM_FROM_MONTH (macros/incremental.sql).
select
    o.*,
    r.era,
    r.thang_ky,
    cast(o.ngay_quyet_dinh + interval 36 month as date) as het_hieu_luc
from {{ ref('stg_ocop_listings') }} as o
inner join {{ ref('int_submission_versions') }} as r using (submission_id)
where r.is_current and {{ from_month('r.thang_ky') }}
