{{ config(materialized='table', schema='pricing_lab') }}

{#- Margins under a candidate per candidate, tenant, plan and month (reporting currency): the sums of
    fct_backtest_margins over the plan's customers (plans are a tenant's). -#}

with

margins as (
    select * from {{ ref('fct_backtest_margins') }}
),

final as (
    select
        candidate,
        tenant_id,
        plan_id,
        month_start,
        reporting_currency,
        count(distinct customer_id) as customers,
        {%- for column in ['billed_revenue', 'candidate_revenue', 'variable_cost', 'total_cost',
            'billed_contribution_margin', 'candidate_contribution_margin', 'billed_gross_margin',
            'candidate_gross_margin', 'margin_change'] %}
            cast(sum({{ column }}_reporting) as decimal(38, 12)) as {{ column }}_reporting,
        {%- endfor %}
        {{ safe_divide('sum(billed_gross_margin_reporting) * 100', 'sum(billed_revenue_reporting)') }}
            as billed_gross_margin_pct,
        {{ safe_divide('sum(candidate_gross_margin_reporting) * 100', 'sum(candidate_revenue_reporting)') }}
            as candidate_gross_margin_pct
    from margins
    group by 1, 2, 3, 4, 5
)

select * from final
