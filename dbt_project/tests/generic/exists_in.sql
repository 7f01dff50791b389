{#-
  Every combination of `columns` in the model exists as `to_columns` in `to` (optionally restricted
  by `to_where`): a multi-column relationships test. Rows with a null key are not checked.
-#}
{% test exists_in(model, columns, to, to_columns, to_where='true') %}
with child as (select * from {{ model }})

select {{ columns | join(', ') }}
from child
where {% for c in columns %}child.{{ c }} is not null{{ ' and ' if not loop.last }}{% endfor %}
  and not exists (
    select 1 from {{ to }} as parent
    where ({{ to_where }})
      {%- for c in columns %}
      and parent.{{ to_columns[loop.index0] }} = child.{{ c }}
      {%- endfor %}
)
{% endtest %}
