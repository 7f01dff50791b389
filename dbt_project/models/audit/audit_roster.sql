-- Roster problems (contract §3): a blank or malformed required cell, a reversed range, a commune on two
-- overlapping rows is an error that withholds publication, naming file, row and column; a district
-- given after the reform is a warning. Severity: the problem's own, unless the policy names ROSTER_<RULE>.
select
    'ROSTER_' || upper(rule) as ma_kiem_tra,
    'xa' as cap,
    coalesce(ma_xa, '') as ma_don_vi,
    '' as ky,
    null::double as gia_tri_bao_cao,
    null::double as gia_tri_tinh_toan,
    message || ' (' || file_name || coalesce(', dòng ' || "row", '') || coalesce(', cột ' || "column", '') || ')' as mo_ta,
    coalesce(cast("row" as varchar), '') || ':' || coalesce("column", '') || ':' || rule as khoa,
    severity as muc_do_mac_dinh
from {{ source('ref', 'roster_problems') }}
