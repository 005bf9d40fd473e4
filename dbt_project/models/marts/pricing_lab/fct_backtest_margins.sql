{{ config(materialized='table', schema='pricing_lab') }}

{#- Margins under a candidate price book: per candidate, tenant, customer, plan and month, in the
    reporting currency, what the customer's month earned as billed and under the candidate, against
    the SAME cost (analytics.fct_margin_by_customer: variable, fixed and allocated shared cost of the
    customer's month, docs/analytics.md "Unit cost, allocation and margins"). A price change moves
    revenue, not cost, so
      billed_gross_margin    = billed revenue    - total cost
      candidate_gross_margin = candidate revenue - total cost
      margin_change          = candidate_gross_margin - billed_gross_margin (= the revenue difference)
    (contribution margins alike with the variable cost). A customer on several plans in a month has
    its cost split over them by their share of its billed revenue (of its candidate revenue when it
    was billed nothing; equally when both are 0). Revenue is that of fct_backtest_customer_months
    (billing periods starting in the month) converted by the analytics_fx_rates seed; an identical
    candidate has margin_change exactly 0. Cost is the month's cost of the customer: known limit, an
    annual fee billed in one period counts in that period's start month. -#}

{#- the grain of fct_backtest_customer_months, without its currency -#}
{%- set customer_plan_month = ['candidate', 'tenant_id', 'customer_id', 'plan_id', 'month_start'] %}

with

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

customer_months as (
    select
        {{ customer_plan_month | join(',\n        ') }},
        currency,
        billed_total,
        candidate_total
    from {{ ref('fct_backtest_customer_months') }}
),

customer_margin as (
    select
        tenant_id,
        customer_id,
        month_start,
        variable_cost_reporting,
        total_cost_reporting
    from {{ ref('fct_margin_by_customer') }}
),

revenue as (
    select
        customer_months.candidate,
        customer_months.tenant_id,
        customer_months.customer_id,
        customer_months.plan_id,
        customer_months.month_start,
        fx_rates.reporting_currency,
        sum({{ decimal_multiply('customer_months.billed_total', 'fx_rates.rate_to_reporting') }})
            as billed_revenue_reporting,
        sum({{ decimal_multiply('customer_months.candidate_total', 'fx_rates.rate_to_reporting') }})
            as candidate_revenue_reporting
    from customer_months
    left join fx_rates
        on customer_months.currency = fx_rates.currency
    group by 1, 2, 3, 4, 5, 6
),

shares as (
    select
        *,
        sum(billed_revenue_reporting) over (
            partition by candidate, tenant_id, customer_id, month_start
        ) as customer_billed_reporting,
        sum(candidate_revenue_reporting) over (
            partition by candidate, tenant_id, customer_id, month_start
        ) as customer_candidate_reporting,
        count(*) over (partition by candidate, tenant_id, customer_id, month_start) as customer_plans
    from revenue
),

costed as (
    select
        shares.*,
        cast(coalesce(customer_margin.variable_cost_reporting, 0) as decimal(38, 12)) as customer_variable_cost,
        cast(coalesce(customer_margin.total_cost_reporting, 0) as decimal(38, 12)) as customer_total_cost,
        customer_margin.customer_id is not null as has_cost_data
    from shares
    left join customer_margin
        on
            {{ keys_match(['tenant_id', 'customer_id', 'month_start'], 'shares', 'customer_margin') }}
),

allocated as (
    select
        *,
        {%- for cost in ['variable', 'total'] %}
            case
                when customer_plans = 1 then customer_{{ cost }}_cost
                when customer_billed_reporting != 0
                    then {{ split_by_share('customer_' ~ cost ~ '_cost', 'billed_revenue_reporting',
                        'customer_billed_reporting') }}
                when customer_candidate_reporting != 0
                    then {{ split_by_share('customer_' ~ cost ~ '_cost', 'candidate_revenue_reporting',
                        'customer_candidate_reporting') }}
                else {{ safe_divide('customer_' ~ cost ~ '_cost', 'customer_plans') }}
            end as {{ cost }}_cost_reporting{% if not loop.last %},{% endif %}
        {%- endfor %}
    from costed
),

final as (
    select
        {{ customer_plan_month | join(',\n        ') }},
        reporting_currency,
        has_cost_data,
        cast(billed_revenue_reporting as decimal(38, 12)) as billed_revenue_reporting,
        cast(candidate_revenue_reporting as decimal(38, 12)) as candidate_revenue_reporting,
        cast(variable_cost_reporting as decimal(38, 12)) as variable_cost_reporting,
        cast(total_cost_reporting as decimal(38, 12)) as total_cost_reporting,
        cast(billed_revenue_reporting - variable_cost_reporting as decimal(38, 12))
            as billed_contribution_margin_reporting,
        cast(candidate_revenue_reporting - variable_cost_reporting as decimal(38, 12))
            as candidate_contribution_margin_reporting,
        cast(billed_revenue_reporting - total_cost_reporting as decimal(38, 12)) as billed_gross_margin_reporting,
        cast(candidate_revenue_reporting - total_cost_reporting as decimal(38, 12))
            as candidate_gross_margin_reporting,
        cast(candidate_revenue_reporting - billed_revenue_reporting as decimal(38, 12)) as margin_change_reporting,
        {{ safe_divide('(billed_revenue_reporting - total_cost_reporting) * 100', 'billed_revenue_reporting') }}
            as billed_gross_margin_pct,
        {{ safe_divide('(candidate_revenue_reporting - total_cost_reporting) * 100', 'candidate_revenue_reporting') }}
            as candidate_gross_margin_pct
    from allocated
)

select * from final
