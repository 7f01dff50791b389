-- Provinces the warehouse covers (contract §3), per era: named in the roster (in the eras of the
-- months its rows apply to) or the configuration (both eras), or failing both, those that have sent
-- anything (in the era of what they sent). A province code means another unit in each era, so a
-- 2025 province covered also covers, in legacy months, the legacy provinces whose communes lie in it
-- (int_unit_successor): a province that absorbed another states its year 2025 including its
-- predecessors' first half, whose communes are then expected and counted.
with months as (select thang_ky, {{ era_of('thang_ky') }} as era from {{ ref('int_months') }}),

eras as (select era from {{ ref('admin_eras') }}),

roster as (
    select distinct m.era, r.ma_tinh
    from {{ ref('stg_roster') }} as r
    inner join months as m
        on (r.tu_thang_ky is null or m.thang_ky >= r.tu_thang_ky)
        and (r.den_thang_ky is null or m.thang_ky <= r.den_thang_ky)
    where r.ma_tinh is not null
),

configured as (
    select eras.era, c.ma_tinh
    from (select unnest({{ var('provinces', []) }}::varchar[]) as ma_tinh) as c
    cross join eras
),

units as (select * from {{ ref('stg_admin_units') }}),

senders as (
    select s.era, coalesce(u.ma_tinh, s.ma_tinh) as ma_tinh
    from {{ ref('int_submission_versions') }} as s
    left join units as u on u.era = s.era and u.ma_xa = s.ma_xa
    union
    select {{ era_of('den_thang_ky') }}, ma_don_vi from {{ ref('stg_claims') }} where cap = 'tinh'
    union
    select 'legacy', u.ma_tinh
    from {{ ref('stg_claims') }} as c
    inner join units as u on u.era = 'legacy' and u.ma_huyen = c.ma_don_vi
    where c.cap = 'huyen'
),

named as (select era, ma_tinh from roster union select era, ma_tinh from configured),

covered as (
    select distinct era, ma_tinh, 'named' as ly_do from named
    union all
    select distinct era, ma_tinh, 'sent data' as ly_do from senders
    where ma_tinh is not null and not exists (select 1 from named)
),

predecessors as (
    select distinct u.era, u.ma_tinh, 'predecessor of 2025 province ' || c.ma_tinh as ly_do
    from covered as c
    inner join {{ ref('int_unit_successor') }} as s on s.era = 'legacy' and s.ma_tinh_2025 = c.ma_tinh
    inner join units as u on u.era = s.era and u.ma_xa = s.ma_xa
    where c.era = 'reform2025'
)

select era, ma_tinh, ly_do from covered
union all
select p.era, p.ma_tinh, p.ly_do from predecessors as p
where not exists (select 1 from covered as c where c.era = p.era and c.ma_tinh = p.ma_tinh)
