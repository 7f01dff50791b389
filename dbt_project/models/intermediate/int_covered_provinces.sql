-- Provinces the warehouse covers (contract §3): named in the roster or the configuration, or
-- failing both, those that have sent anything (submissions or claims).
with roster as (select distinct ma_tinh from {{ ref('stg_roster') }}),

configured as (
    select unnest({{ var('provinces', []) }}::varchar[]) as ma_tinh
),

units as (select * from {{ ref('stg_admin_units') }}),

senders as (
    select coalesce(u.ma_tinh, s.ma_tinh) as ma_tinh
    from {{ ref('int_submission_versions') }} as s
    left join units as u on u.era = s.era and u.ma_xa = s.ma_xa
    union
    select ma_don_vi from {{ ref('stg_claims') }} where cap = 'tinh'
    union
    select u.ma_tinh
    from {{ ref('stg_claims') }} as c
    inner join units as u on u.era = 'legacy' and u.ma_huyen = c.ma_don_vi
    where c.cap = 'huyen'
),

named as (select ma_tinh from roster union select ma_tinh from configured)

select distinct ma_tinh, 'named' as ly_do from named
union all
select distinct ma_tinh, 'sent data' as ly_do from senders
where ma_tinh is not null and not exists (select 1 from named)
