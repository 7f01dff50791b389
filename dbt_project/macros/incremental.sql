{#
  Month window of an incremental build (Dagster monthly partitions pass vars min_month / max_month,
  'YYYY-MM', inclusive). Without them, or on a first / full-refresh build, every month is built.
#}
{% macro month_window_active() %}
    {# The var first: unit tests have no relation for is_incremental() to look at. #}
    {{ return(var('min_month', none) is not none and is_incremental()) }}
{% endmacro %}

{% macro month_window(column) -%}
    {%- if month_window_active() -%}
    {{ column }} between cast('{{ var("min_month") }}-01' as date)
        and cast('{{ var("max_month", var("min_month")) }}-01' as date)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{# Months at or before the window's end: the as-of lookback of stocks needs earlier submissions. #}
{% macro up_to_window_end(column) -%}
    {%- if month_window_active() -%}
    {{ column }} <= cast('{{ var("max_month", var("min_month")) }}-01' as date)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#
  Pre-hook of the month-incremental models (strategy append): before inserting the rebuilt months,
  delete the window's rows, or every row on an unwindowed incremental build, so a month whose rows
  vanished (a commune left the roster) does not keep stale rows.
#}
{% macro clear_month_window(column='thang_ky') %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ month_window(column) }}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
