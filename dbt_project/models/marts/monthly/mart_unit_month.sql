-- Every metric of contract §2 per unit and month, at the levels xa, huyen (before the 2025 reform),
-- tinh and toan_quoc, aggregated from commune rows. Units are those of the month's own era.
-- Incremental by month (macros/incremental.sql); the contract (YAML) fixes its columns and types.
{% set levels = [
    ('xa', 'ma_xa', 'ten_xa'),
    ('huyen', 'ma_huyen', 'ten_huyen'),
    ('tinh', 'ma_tinh', 'ten_tinh'),
    ('toan_quoc', "''", "'Toàn quốc'"),
] %}

with communes as (select * from {{ ref('fct_commune_month') }} where {{ month_window('thang_ky') }})

{% for cap, code, name in levels %}
select
    '{{ cap }}' as cap,
    cast({{ code }} as varchar) as ma_don_vi,
    cast(any_value({{ name }}) as varchar) as ten_don_vi,
    thang,
    thang_ky,
    {{ metric_columns() }}
from communes
{%- if cap == 'huyen' %}
where ma_huyen is not null
{%- endif %}
group by thang, thang_ky{{ ', ' ~ code if cap != 'toan_quoc' }}
{{ 'union all' if not loop.last }}
{% endfor %}
