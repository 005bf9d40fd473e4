{#- Two per-key aggregates put side by side with a full outer join (revenue against cost, billed
    against candidate): one place for the key columns and the zero-filled amounts.
    (the key columns: columns_match / coalesce_columns, macros/cross_engine/joins.sql)
    zero_filled:     cast(coalesce(relation.c, 0) as decimal(38, 12)) as c, ... for each amount -#}
{% macro zero_filled(relation, columns) -%}
    {%- for column in columns %}
        cast(coalesce({{ relation }}.{{ column }}, 0) as decimal(38, 12)) as {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- `amount` x part / whole, multiplied first (exact shares): a cost split by a revenue share. -#}
{% macro split_by_share(amount, part, whole) -%}
    {{ safe_divide(decimal_multiply(amount, part), whole) }}
{%- endmacro %}
