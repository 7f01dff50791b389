-- Commune × month × criterion (tiêu chí): met or not, from the superseding submission that holds
-- the commune's stocks at the month's end (the same as-of submission as fct_commune_month).
-- Communes in scope with no submission yet have no rows.
with communes as (
    select thang_ky, thang, era, ma_xa, ma_tinh, bo_tieu_chi, submission_id_so_lieu
    from {{ ref('fct_commune_month') }}
    where submission_id_so_lieu is not null and {{ month_window('thang_ky') }}
)

select
    c.thang_ky,
    c.thang,
    c.era,
    c.ma_xa,
    c.ma_tinh,
    c.bo_tieu_chi,
    s.tieu_chi,
    s.dat,
    c.submission_id_so_lieu
from communes as c
inner join {{ ref('stg_criteria_status') }} as s on s.submission_id = c.submission_id_so_lieu
