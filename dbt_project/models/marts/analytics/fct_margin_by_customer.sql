{{ config(schema='analytics') }}

{#- Gross and contribution margin per customer and month (see doc margins), reporting currency.
    revenue: spread over service periods by days (= the customer's MRR of the month);
    variable / fixed cost: allocated by usage or directly (fct_customer_cost);
    shared cost: allocated by revenue share (fct_customer_cost, allocation_method revenue_share);
    contribution_margin = revenue - variable cost; gross_margin = revenue - all allocated cost;
    each with its percentage of revenue. is_provisional marks the as-of month. -#}

with

revenue_totals as (
    select * from {{ ref('int_analytics__customer_revenue') }}
),

fx_rates as (
    select reporting_currency from {{ ref('analytics_fx_rates') }}
),

customer_cost as (
    select
        tenant_id,
        customer_id,
        month_start,
        allocation_method,
        variable_cost_reporting,
        fixed_cost_reporting,
        cost_reporting
    from {{ ref('fct_customer_cost') }}
),

as_of as (
    select provisional_month from {{ ref('int_analytics__as_of') }}
),

cost_totals as (
    select
        tenant_id,
        customer_id,
        month_start,
        sum(case when allocation_method != 'revenue_share' then variable_cost_reporting else 0 end)
            as variable_cost_reporting,
        sum(case when allocation_method != 'revenue_share' then fixed_cost_reporting else 0 end)
            as fixed_cost_reporting,
        sum(case when allocation_method = 'revenue_share' then cost_reporting else 0 end) as shared_cost_reporting
    from customer_cost
    group by 1, 2, 3
),

{%- set keys = ['tenant_id', 'customer_id', 'month_start'] %}

combined as (
    select
        {{ coalesce_columns('revenue_totals', 'cost_totals', keys) }},
        {{ zero_filled('revenue_totals', ['revenue_reporting']) }},
        {{ zero_filled('cost_totals', ['variable_cost_reporting', 'fixed_cost_reporting', 'shared_cost_reporting']) }}
    from revenue_totals
    full outer join cost_totals
        on
            {{ columns_match('revenue_totals', 'cost_totals', keys) }}
),

final as (
    select
        combined.tenant_id,
        combined.customer_id,
        combined.month_start,
        combined.month_start = as_of.provisional_month as is_provisional,
        (select min(fx_rates.reporting_currency) from fx_rates) as reporting_currency,
        combined.revenue_reporting,
        combined.variable_cost_reporting,
        combined.fixed_cost_reporting,
        combined.shared_cost_reporting,
        cast(
            combined.variable_cost_reporting + combined.fixed_cost_reporting + combined.shared_cost_reporting
            as decimal(38, 12)
        ) as total_cost_reporting,
        {{ margin_columns(
            'combined.revenue_reporting',
            'combined.variable_cost_reporting',
            ['combined.variable_cost_reporting', 'combined.fixed_cost_reporting', 'combined.shared_cost_reporting']
        ) }}
    from combined
    cross join as_of
    where combined.month_start <= as_of.provisional_month
)

select * from final
