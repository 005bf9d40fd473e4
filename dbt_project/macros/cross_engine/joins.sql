{#- Join helpers for the many joins on a composite key (tenant, customer, meter, ...): the key is
    named once, as a list, and the same list serves the join, the coalesce of a full outer join
    and the group by. Plain ANSI SQL: the same text on DuckDB and Spark. -#}

{#- `left.c = right.c and ...` for every column c of `columns` (an equi-join on a composite key). -#}
{% macro columns_match(left, right, columns) -%}
    {%- for column in columns -%}
        {{ left }}.{{ column }} = {{ right }}.{{ column }}{{ '\n            and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- `coalesce(left.c, right.c) as c, ...` for every column c of `columns`: the key of a full outer
    join, taken from whichever side has the row. No trailing comma. -#}
{% macro coalesce_columns(left, right, columns) -%}
    {%- for column in columns -%}
        coalesce({{ left }}.{{ column }}, {{ right }}.{{ column }}) as {{ column }}{{ ',\n        ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}
