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

{# An incremental build given `value` (a month): the value first, since unit tests have no relation
   for is_incremental() to look at. #}
{% macro incremental_with(value) %}
    {{ return(value != '' and is_incremental()) }}
{% endmacro %}

{% macro month_window_active() %}
    {{ return(incremental_with(month_window_bounds()[0])) }}
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
  Pre-hook of the incremental models (strategy append, dbt_project.yml): before inserting the
  rebuilt rows, delete those `condition` selects (`month_window` or `from_month`: every row on an
  incremental build without its variables), so rows that vanished (a commune left the roster, a
  version superseded) are not kept.
#}
{% macro clear_rows(condition) %}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ condition }}
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
    {{ return(incremental_with(env_var('NTM_FROM_MONTH', ''))) }}
{% endmacro %}

{% macro from_month(column) -%}
    {%- if from_month_active() -%}
    {{ column }} >= cast('{{ env_var("NTM_FROM_MONTH") }}-01' as date)
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
