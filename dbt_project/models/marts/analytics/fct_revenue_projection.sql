{{ config(schema='analytics') }}

{#- A simple MRR projection (see doc revenue_projection): the last COMPLETE month's MRR (reporting
    currency) grown by the average month-over-month growth of the trailing 3 months, compounded,
    for var('projection_months', 6) months. Actual months are included (is_projection = false)
    so the series charts as one line. Not a forecast model: a documented extrapolation. -#}

{%- set horizon = var('projection_months', 6) | int -%}

with

growth as (
    select * from {{ ref('fct_mrr_growth') }}
    where not is_provisional
),

ranked as (
    select
        *,
        row_number() over (partition by reporting_currency order by month_start desc) as months_back
    from growth
),

trailing_growth as (
    select
        reporting_currency,
        max(case when months_back = 1 then month_start end) as last_month,
        max(case when months_back = 1 then mrr_reporting end) as last_mrr_reporting,
        {{ safe_divide(
            'sum(case when months_back <= 3 then mom_growth end)',
            'count(case when months_back <= 3 then mom_growth end)'
        ) }} as trailing_3m_growth
    from ranked
    group by 1
),

actuals as (
    select
        growth.month_start,
        growth.reporting_currency,
        false as is_projection,
        growth.mrr_reporting,
        cast(null as decimal(38, 12)) as growth_rate_used
    from growth
),

projected as (
    {%- for k in range(1, horizon + 1) %}
        {%- set ns = namespace(expr='trailing_growth.last_mrr_reporting') %}
        {%- for _ in range(k) %}
            {%- set ns.expr = decimal_multiply(ns.expr, '(1 + coalesce(trailing_growth.trailing_3m_growth, 0))') %}
        {%- endfor %}
        select
            cast({{ add_interval('month', k, 'trailing_growth.last_month') }} as date) as month_start,
            trailing_growth.reporting_currency,
            true as is_projection,
            {{ ns.expr }} as mrr_reporting,
            cast(coalesce(trailing_growth.trailing_3m_growth, 0) as decimal(38, 12)) as growth_rate_used
        from trailing_growth
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

final as (
    select * from actuals
    union all
    select * from projected
)

select * from final
