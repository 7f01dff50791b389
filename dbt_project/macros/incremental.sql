{#
  Month window of an incremental build: environment variables NTM_MIN_MONTH / NTM_MAX_MONTH
  ('YYYY-MM', inclusive), which the Dagster monthly partitions set. Not --vars: dbt re-parses the
  whole project whenever --vars change (seconds for every invocation), while a changed environment
  variable re-parses only the files that read it. Without them, or on a first / full-refresh
  build, every month is built.
#}
{% macro month_window_bounds() %}
    {%- set first = env_var('NTM_MIN_MONTH', '') -%}
    {{ return((first, env_var('NTM_MAX_MONTH', '') or first)) }}
{% endmacro %}

{% macro month_window_active() %}
    {# The window first: unit tests have no relation for is_incremental() to look at. #}
    {{ return(month_window_bounds()[0] != '' and is_incremental()) }}
{% endmacro %}

{% macro month_window(column) -%}
    {%- if month_window_active() -%}
    {%- set first, last = month_window_bounds() -%}
    {{ column }} between cast('{{ first }}-01' as date) and cast('{{ last }}-01' as date)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{# Months at or before the window's end: the as-of lookback of stocks needs earlier submissions. #}
{% macro up_to_window_end(column) -%}
    {%- if month_window_active() -%}
    {{ column }} <= cast('{{ month_window_bounds()[1] }}-01' as date)
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

{#
  Data tests of the month-incremental models (config `where: __month_window__` in dbt_project.yml)
  look at the rebuilt months only: the other months were tested when they were built, and a full
  build tests them all. Otherwise dbt's own get_where_subquery.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where and '__month_window__' in where -%}
        {%- set first, last = month_window_bounds() -%}
        {%- set window = "thang_ky between cast('" ~ first ~ "-01' as date) and cast('" ~ last ~ "-01' as date)"
                         if first else 'true' -%}
        {%- set where = where | replace('__month_window__', window) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
        (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
