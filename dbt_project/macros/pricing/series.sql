{#- Integers 0 .. 10^digits - 1 as column `n`, portable (no generate_series). -#}
{% macro number_series(digits=3) -%}
    select
        {% for i in range(digits) %}d{{ i }}.n * {{ 10 ** i }}{% if not loop.last %} + {% endif %}{% endfor %} as n
    from
        {% for i in range(digits) -%}
        (
            {% for v in range(10) %}select {{ v }} as n{% if not loop.last %} union all {% endif %}{% endfor %}
        ) as d{{ i }}{% if not loop.last %} cross join {% endif %}
        {%- endfor %}
{%- endmacro %}

{#- The rating cut-off date: var('as_of_date') (YYYY-MM-DD), default today (UTC run date). -#}
{% macro as_of_date() -%}
    cast('{{ var("as_of_date", run_started_at.strftime("%Y-%m-%d")) }}' as date)
{%- endmacro %}

{#- The day of month of a date, as an integer. -#}
{% macro day_of_month(expr) -%}
    cast(extract(day from {{ expr }}) as integer)
{%- endmacro %}
