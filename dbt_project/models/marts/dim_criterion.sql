-- The numbered criteria of each criteria set, with the set's legal basis.
select
    c.bo_tieu_chi,
    c.tieu_chi,
    c.ten_tieu_chi,
    s.so_tieu_chi as so_tieu_chi_bo,
    s.can_cu_phap_ly
from {{ ref('criteria') }} as c
inner join {{ ref('criteria_sets') }} as s using (bo_tieu_chi)
