{#
  A name folded for identity: NFC, lower case, no diacritics (đ → d), only letters and digits, so
  "Chè Tân Cương", "che tan cuong" and the NFD form of the first are the same key.
#}
{% macro fold_text(expr) -%}
    regexp_replace(
        lower(strip_accents(replace(replace(nfc_normalize(trim(coalesce({{ expr }}, ''))), 'Đ', 'D'), 'đ', 'd'))),
        '[^0-9a-z]', '', 'g')
{%- endmacro %}

{# A short stable key from parts (first 16 hex digits of md5). #}
{% macro stable_key(parts) -%}
    left(md5({{ parts | join(" || '|' || ") }}), 16)
{%- endmacro %}
