{#- The grain of a model: no two rows share these columns. (dbt_utils is not installable here.) -#}
{% test unique_grain(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
