{#
  A name folded for identity: no case, no diacritics (đ → d), only letters and digits, so
  "Chè Tân Cương", "che tan cuong" and the NFD form of the first are the same key. The fold itself
  is Python's (pipelines/ingest/normalize.py: fold), registered as the DuckDB function ntm_fold by
  the dbt-duckdb plugin pipelines/lib/sql_functions.py: one home for the rule. Table models only.
#}
{% macro fold_text(expr) -%}
    ntm_fold(coalesce({{ expr }}, ''))
{%- endmacro %}

{# A commune's name folded without its type prefix ("Xã", "P."), as normalize.commune_name_key. #}
{% macro commune_name_key(expr) -%}
    ntm_commune_name_key(coalesce({{ expr }}, ''))
{%- endmacro %}

{# A short stable key from parts (first 16 hex digits of md5). #}
{% macro stable_key(parts) -%}
    left(md5({{ parts | join(" || '|' || ") }}), 16)
{%- endmacro %}
