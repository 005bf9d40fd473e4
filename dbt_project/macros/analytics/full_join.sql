{#- Two per-key aggregates put side by side with a full outer join (revenue against cost, billed
    against candidate): one place for the key columns and the zero-filled amounts.
    coalesce_keys:   coalesce(left.k, right.k) as k, ... for each key
    keys_match:      left.k = right.k and ... (the join condition)
    zero_filled:     cast(coalesce(relation.c, 0) as decimal(38, 12)) as c, ... for each amount -#}
{#- coalesce_keys and keys_match are the project's composite-key macros (macros/cross_engine/joins.sql)
    with the keys first. -#}
{% macro coalesce_keys(keys, left, right) -%}
    {{ usagebill.coalesce_columns(left, right, keys) }}
{%- endmacro %}

{% macro keys_match(keys, left, right) -%}
    {{ usagebill.columns_match(left, right, keys) }}
{%- endmacro %}

{% macro zero_filled(relation, columns) -%}
    {%- for column in columns %}
        cast(coalesce({{ relation }}.{{ column }}, 0) as decimal(38, 12)) as {{ column }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- `amount` x part / whole, multiplied first (exact shares): a cost split by a revenue share. -#}
{% macro split_by_share(amount, part, whole) -%}
    {{ safe_divide(decimal_multiply(amount, part), whole) }}
{%- endmacro %}
