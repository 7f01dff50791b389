-- Where each commune-level unit lies in the 2025 two-level list: a legacy commune through its
-- default crosswalk link (a divided commune counts once, in the unit the package assigns by
-- default), a 2025 commune as itself. The one place that places units across the reform, used by
-- claim_reconciliation (ranges across July 2025) and mart_province_month_2025 (the 2025 roll-up).
select 'legacy' as era, ma_xa_cu as ma_xa, ma_xa_moi as ma_xa_2025, ma_tinh_moi as ma_tinh_2025
from {{ ref('stg_admin_unit_crosswalk') }}
where is_default
qualify row_number() over (partition by ma_xa_cu order by ma_xa_moi) = 1

union all

select era, ma_xa, ma_xa, ma_tinh
from {{ ref('stg_admin_units') }}
where era = 'reform2025'
