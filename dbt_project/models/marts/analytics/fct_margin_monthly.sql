{{ config(schema='analytics') }}

{#- Company gross and contribution margin per month (see doc margins), reporting currency.
    revenue = all customers' revenue spread over service periods by days (= company MRR);
    total cost = every cost row of the month (fct_cost_breakdown), allocated or not;
    contribution_margin = revenue - variable cost; gross_margin = revenue - total cost;
    unallocated_cost = total cost - cost allocated to customers (pools nobody used, months
    without revenue). is_provisional marks the as-of month. -#}

with

customer_revenue as (
    select month_start, revenue_reporting from {{ ref('int_analytics__customer_revenue') }}
),

as_of as (
    select provisional_month from {{ ref('int_analytics__as_of') }}
),

fx_rates as (
    select reporting_currency from {{ ref('analytics_fx_rates') }}
),

customer_cost as (
    select
        month_start,
        cost_reporting
    from {{ ref('fct_customer_cost') }}
),

pools as (
    select
        month_start,
        variable_cost_reporting,
        fixed_cost_reporting,
        total_cost_reporting
    from {{ ref('int_analytics__cost_pools') }}
),

revenue_months as (
    select
        month_start,
        sum(revenue_reporting) as revenue_reporting
    from customer_revenue
    group by 1
),

cost_months as (
    select
        month_start,
        sum(total_cost_reporting) as total_cost_reporting,
        sum(variable_cost_reporting) as variable_cost_reporting,
        sum(fixed_cost_reporting) as fixed_cost_reporting
    from pools
    group by 1
),

allocated_months as (
    select
        month_start,
        sum(cost_reporting) as allocated_cost_reporting
    from customer_cost
    group by 1
),

combined as (
    select
        coalesce(revenue_months.month_start, cost_months.month_start) as month_start,
        cast(coalesce(revenue_months.revenue_reporting, 0) as decimal(38, 12)) as revenue_reporting,
        cast(coalesce(cost_months.variable_cost_reporting, 0) as decimal(38, 12)) as variable_cost_reporting,
        cast(coalesce(cost_months.fixed_cost_reporting, 0) as decimal(38, 12)) as fixed_cost_reporting,
        cast(coalesce(cost_months.total_cost_reporting, 0) as decimal(38, 12)) as total_cost_reporting
    from revenue_months
    full outer join cost_months
        on revenue_months.month_start = cost_months.month_start
),

final as (
    select
        combined.month_start,
        combined.month_start = as_of.provisional_month as is_provisional,
        (select min(fx_rates.reporting_currency) from fx_rates) as reporting_currency,
        combined.revenue_reporting,
        combined.variable_cost_reporting,
        combined.fixed_cost_reporting,
        combined.total_cost_reporting,
        cast(combined.total_cost_reporting - coalesce(allocated_months.allocated_cost_reporting, 0) as decimal(38, 12))
            as unallocated_cost_reporting,
        {{ margin_columns('combined.revenue_reporting', 'combined.variable_cost_reporting', ['combined.total_cost_reporting']) }}
    from combined
    cross join as_of
    left join allocated_months
        on combined.month_start = allocated_months.month_start
    where combined.month_start <= as_of.provisional_month
)

select * from final
