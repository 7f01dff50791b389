{#- Defaults here so that a bare `dbt build` works; the pipeline passes settings.dbt_vars(). #}
-- Completeness and timeliness of commune reporting per district and province and reporting period,
-- and per commune for each province's latest period (cap 'xa': 1 of 1 or 0 of 1; the report lists them)
-- (WHO Data Quality Review: received / expected, and received by the deadline / expected).
--
-- Expected periods: a province's cadence is read from what its communes send. For each period kind
-- it uses (month, quarter, half-year, year), every period of that kind from its first to its last
-- one is expected, so a gap inside the series counts as missing.
-- Expected communes: the scope (int_scope_month) at the period's last month.
-- Received: the commune has an accepted submission for that period, or a finer one ending in the
-- same month (a monthly report for 2020-06 also serves 2020-H1 and 2020-Q2).
-- Timeliness is on-time / received, so that a missing report counts once (against completeness),
-- not twice.
-- Timely: first received, as a local date in Asia/Ho_Chi_Minh (stg_files.arrived_at_local), on or
-- before day var('deadline_day', 10) of the month after the period. Periods
-- whose deadline passed before the warehouse's first file arrived are back-filled history: their
-- timeliness cannot be judged and is left null.
{% set kinds = [('thang', 1), ('quy', 3), ('nua_nam', 6), ('nam', 12)] %}

with scope as (select * from {{ ref('int_scope_month') }}),

submissions as (
    select
        {{ era_of('s.thang_ky') }} as era,
        s.ma_xa,
        s.ky_bao_cao,
        s.thang_ky,
        {{ period_kind('s.ky_bao_cao') }} as loai_ky,
        f.arrived_at_local as arrived_at
    from {{ ref('stg_submissions') }} as s
    inner join {{ ref('stg_files') }} as f using (file_sha256)
    where s.thang_ky is not null and f.file_status = 'accepted'
),

kind_months as (
    select * from (values {% for kind, step in kinds %}('{{ kind }}', {{ step }}){{ ',' if not loop.last }}{% endfor %})
        as t(loai_ky, so_thang)
),

-- Each kind a province uses within an era (a 2025 province is another unit than the legacy one of
-- the same code), with its first and last period end.
province_cadence as (
    select sc.era, sc.ma_tinh, s.loai_ky, min(s.thang_ky) as ky_dau, max(s.thang_ky) as ky_cuoi
    from submissions as s
    inner join scope as sc on sc.era = s.era and sc.ma_xa = s.ma_xa and sc.thang_ky = s.thang_ky
    group by all
),

expected_periods as (
    select
        c.era,
        c.ma_tinh,
        c.loai_ky,
        m.thang_ky,
        case c.loai_ky
            when 'thang' then strftime(m.thang_ky, '%Y-%m')
            when 'quy' then strftime(m.thang_ky, '%Y') || '-Q' || cast(month(m.thang_ky) // 3 as varchar)
            when 'nua_nam' then strftime(m.thang_ky, '%Y') || '-H' || cast(month(m.thang_ky) // 6 as varchar)
            else strftime(m.thang_ky, '%Y')
        end as ky,
        k.so_thang
    from province_cadence as c
    inner join kind_months as k using (loai_ky)
    inner join {{ ref('int_months') }} as m
        on m.thang_ky between c.ky_dau and c.ky_cuoi and month(m.thang_ky) % k.so_thang = 0
        and {{ era_of('m.thang_ky') }} = c.era
),

received as (
    select s.era, s.ma_xa, s.thang_ky, s.ky_bao_cao, k.so_thang, min(s.arrived_at) as arrived_at
    from submissions as s
    inner join kind_months as k using (loai_ky)
    group by all
),

first_file as (select min(arrived_at_local) as arrived_at from {{ ref('stg_files') }}),

-- Finer or equal kinds serve a period when they end in its last month.
commune_periods as (
    select
        e.ma_tinh,
        e.ky,
        any_value(e.loai_ky) as loai_ky,
        e.thang_ky,
        cast(e.thang_ky + interval 1 month + to_days({{ var('deadline_day', 10) }} - 1) as date) as han_nop,
        sc.ma_xa,
        any_value(sc.ma_huyen_hieu_luc) as ma_huyen,
        any_value(sc.ten_huyen) as ten_huyen,
        any_value(sc.ten_tinh) as ten_tinh,
        any_value(sc.ten_xa) as ten_xa,
        min(r.arrived_at) as arrived_at
    from expected_periods as e
    inner join scope as sc on sc.era = e.era and sc.ma_tinh = e.ma_tinh and sc.thang_ky = e.thang_ky
    left join received as r
        on r.era = sc.era and r.ma_xa = sc.ma_xa and r.thang_ky = e.thang_ky
        and (r.ky_bao_cao = e.ky or r.so_thang < e.so_thang)
    group by e.ma_tinh, e.ky, e.thang_ky, sc.ma_xa
),

judged as (
    select
        *,
        arrived_at is not null as da_bao_cao,
        cast(arrived_at as date) <= han_nop as dung_han,
        thang_ky + interval 1 month + to_days({{ var('deadline_day', 10) }}) > (select arrived_at from first_file)
            as danh_gia_dung_han
    from commune_periods
),

-- Each province's latest period: communes are listed for it alone (the report shows who missed it).
latest_periods as (
    select distinct on (ma_tinh) ma_tinh, ky
    from judged
    order by ma_tinh, thang_ky desc, case loai_ky when 'thang' then 0 when 'quy' then 1 when 'nua_nam' then 2 else 3 end
),

by_unit as (
    {%- for cap, code, name in [('xa', 'ma_xa', 'ten_xa'), ('huyen', 'ma_huyen', 'ten_huyen'), ('tinh', 'ma_tinh', 'ten_tinh')] %}
    select
        '{{ cap }}' as cap,
        {{ code }} as ma_don_vi,
        any_value({{ name }}) as ten_don_vi,
        ma_tinh,
        ky,
        any_value(loai_ky) as loai_ky,
        thang_ky,
        any_value(han_nop) as han_nop,
        count(*) as so_xa_phai_bao_cao,
        count_if(da_bao_cao) as so_xa_da_bao_cao,
        count_if(dung_han) as so_xa_dung_han,
        bool_and(danh_gia_dung_han) as danh_gia_dung_han
    from judged
    {%- if cap == 'huyen' %}
    where ma_huyen is not null
    {%- elif cap == 'xa' %}
    where (ma_tinh, ky) in (select ma_tinh, ky from latest_periods)
    {%- endif %}
    group by ma_tinh, ky, thang_ky{{ ', ' ~ code if cap in ('huyen', 'xa') }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    *,
    round(100.0 * so_xa_da_bao_cao / so_xa_phai_bao_cao, 1) as ty_le_day_du,
    case when danh_gia_dung_han and so_xa_da_bao_cao > 0
        then round(100.0 * so_xa_dung_han / so_xa_da_bao_cao, 1) end as ty_le_dung_han,
    cast({{ var('completeness_target', 90) }} as double) as muc_tieu_day_du,
    cast({{ var('timeliness_target', 75) }} as double) as muc_tieu_dung_han
from by_unit
