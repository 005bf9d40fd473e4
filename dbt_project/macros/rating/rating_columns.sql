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
