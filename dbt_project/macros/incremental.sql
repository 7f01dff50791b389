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

{#
  Intermediate models incremental by period end (models/intermediate/by_period): a changed-months
  run sets NTM_FROM_MONTH ('YYYY-MM', lib/months.py `rebuild_from`), the first month of any period
  received since the last build, and these models delete and rebuild their rows from that month on.
  A row depends only on its submission's own rows and on the versions of the same commune and
  period, which share its period end and so lie in the rebuilt months (raw tables are append-only);
  int_commune_reports also reads the rows it keeps (tinh_dong_chay). Without the variable (a full
  build, `dbt build` by hand), every row; Dagster passes --full-refresh for a full build, so a
  changed model is recreated.
#}
{% macro from_month_active() %}
    {# The variable first: unit tests have no relation for is_incremental() to look at. #}
    {{ return(env_var('NTM_FROM_MONTH', '') != '' and is_incremental()) }}
{% endmacro %}

{% macro from_month(column) -%}
    {%- if from_month_active() -%}
    {{ column }} >= cast('{{ env_var("NTM_FROM_MONTH") }}-01' as date)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{% macro clear_from_month(column='thang_ky') %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ from_month(column) }}
    {%- else -%}
    select 1
    {%- endif -%}
{% endmacro %}
