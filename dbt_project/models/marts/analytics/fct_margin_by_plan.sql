{{ config(schema='analytics') }}

{#- Gross and contribution margin per plan and month (see doc margins), reporting currency.
    A customer's revenue counts under the plan of the subscription it was billed for; its costs
    (fct_margin_by_customer) follow its revenue: split over its plans by their share of its
    revenue of the month (all of it when it has one plan; '(no plan)' when it has no revenue).
    Plans are a tenant's: the grain is (tenant_id, plan_id, month). -#}

with

sku_revenue as (
    select
        tenant_id,
        customer_id,
        month_start,
        plan_id,
        revenue_reporting
    from {{ ref('int_analytics__revenue_by_sku') }}
),

customer_margin as (
    select
        tenant_id,
        customer_id,
        month_start,
        is_provisional,
        reporting_currency,
        revenue_reporting,
        variable_cost_reporting,
        fixed_cost_reporting,
        shared_cost_reporting
    from {{ ref('fct_margin_by_customer') }}
),

plan_revenue as (
    select
        tenant_id,
        customer_id,
        month_start,
        plan_id,
        sum(revenue_reporting) as revenue_reporting
    from sku_revenue
    group by 1, 2, 3, 4
),

plan_shares as (
    select
        customer_margin.tenant_id,
        customer_margin.customer_id,
        customer_margin.month_start,
        customer_margin.is_provisional,
        customer_margin.reporting_currency,
        coalesce(plan_revenue.plan_id, '(no plan)') as plan_id,
        coalesce(plan_revenue.revenue_reporting, 0) as revenue_reporting,
        coalesce(plan_revenue.revenue_reporting, customer_margin.revenue_reporting) as share_numerator,
        customer_margin.revenue_reporting as share_denominator,
        customer_margin.variable_cost_reporting,
        customer_margin.fixed_cost_reporting + customer_margin.shared_cost_reporting as other_cost_reporting
    from customer_margin
    left join plan_revenue
        on
            {{ keys_match(['tenant_id', 'customer_id', 'month_start'], 'customer_margin', 'plan_revenue') }}
),

{%- set plan_month = ['tenant_id', 'plan_id', 'month_start', 'is_provisional', 'reporting_currency'] %}

allocated as (
    select
        {{ plan_month | join(',\n        ') }},
        customer_id,
        revenue_reporting,
        {%- for cost in ['variable_cost_reporting', 'other_cost_reporting'] %}
            case
                when share_denominator = 0 then {{ cost }}
                else {{ split_by_share(cost, 'share_numerator', 'share_denominator') }}
            end as {{ cost }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from plan_shares
),

final as (
    select
        {{ plan_month | join(',\n        ') }},
        count(distinct customer_id) as customers,
        cast(sum(revenue_reporting) as decimal(38, 12)) as revenue_reporting,
        cast(sum(variable_cost_reporting) as decimal(38, 12)) as variable_cost_reporting,
        cast(sum(variable_cost_reporting + other_cost_reporting) as decimal(38, 12)) as total_cost_reporting,
        cast(sum(revenue_reporting - variable_cost_reporting) as decimal(38, 12)) as contribution_margin_reporting,
        cast(sum(revenue_reporting - variable_cost_reporting - other_cost_reporting) as decimal(38, 12))
            as gross_margin_reporting,
        {{ safe_divide('sum(revenue_reporting - variable_cost_reporting) * 100', 'sum(revenue_reporting)') }}
            as contribution_margin_pct,
        {{ safe_divide(
            'sum(revenue_reporting - variable_cost_reporting - other_cost_reporting) * 100', 'sum(revenue_reporting)'
        ) }} as gross_margin_pct
    from allocated
    group by {{ plan_month | join(', ') }}
)

select * from final
