{#- The columns that place a rated line: whose subscription (with its tenant, customer, plan version,
    currency and minor unit) and which billing period and service window. Every rating period model
    (int_rating__rating_periods, int_rating__recurring_lines, int_rating__usage_lines,
    int_rating__period_lines) writes them in this order, so their lines union by name and by position.
    `relation`: the CTE or alias to read them from (none: unqualified). -#}
{% macro rating_subscription_columns(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {%- for column in ['subscription_id', 'tenant_id', 'customer_id', 'plan_id', 'plan_version', 'currency', 'minor_unit'] -%}
        {{ prefix ~ column }}{% if not loop.last %}, {% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- rating_subscription_columns, then the period (period_start, period_end) and the part of it the
    subscription serves (service_start, service_end). -#}
{% macro rating_period_columns(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {{ rating_subscription_columns(relation) }},
    {%- for column in ['period_start', 'period_end', 'service_start', 'service_end'] %}
        {{ prefix ~ column }}{% if not loop.last %},{% endif %}
    {%- endfor -%}
{%- endmacro %}

{#- The kind columns of a line the period step adds on its own (free-trial usage allowance,
    discount, minimum-commitment true-up): no meter, no price row, no dimensions, quantity 1.
    Arguments are SQL expressions (quote literals). -#}
{% macro period_line_kind_columns(charge_type, price_source, price_model, line_type, billing_timing="'in_arrears'") -%}
    {{ charge_type }} as charge_type,
        cast(null as {{ dbt.type_string() }}) as meter_id,
        cast(null as {{ dbt.type_string() }}) as price_id,
        {{ price_source }} as price_source,
        {{ price_model }} as price_model,
        {{ line_type }} as line_type,
        {{ billing_timing }} as billing_timing,
        '{}' as dimensions_json,
        cast(1 as decimal(38, 12)) as quantity
{%- endmacro %}
