{{ config(schema='analytics') }}

{#- Contribution margin per customer, SKU and month (see doc margin_vs_markup), in the reporting
    currency. Revenue: the customer's billing lines of the month (full precision, before
    invoice rounding), usage charges attributed to their meter_id (the SKU), other charges (fees,
    prorations, credits) to their charge id. Cost: the customer's metered quantity of the month
    (fct_usage_monthly) x the meter's unit cost of the month (fct_unit_cost). Both ratios, named:
      markup_on_cost_pct     = (revenue - cost) / cost * 100
      margin_on_revenue_pct  = (revenue - cost) / revenue * 100
    e.g. $0.01 price on $0.0087 cost: markup 14.94 %, margin 13.0 % (pricing-examples.md case 4). -#}

with

billing_lines as (
    select * from {{ ref('fct_billing_lines') }}
),

usage_monthly as (
    select * from {{ ref('fct_usage_monthly') }}
),

unit_cost as (
    select * from {{ ref('fct_unit_cost') }}
),

fx_rates as (
    select * from {{ ref('analytics_fx_rates') }}
),

revenue as (
    select
        billing_lines.customer_id,
        cast({{ trunc_to('month', 'billing_lines.period_start') }} as date) as month_start,
        coalesce(billing_lines.meter_id, billing_lines.charge_id) as sku_id,
        billing_lines.meter_id,
        sum({{ decimal_multiply('billing_lines.amount', 'fx_rates.rate_to_reporting') }}) as revenue_reporting
    from billing_lines
    left join fx_rates
        on billing_lines.currency = fx_rates.currency
    group by 1, 2, 3, 4
),

usage_cost as (
    select
        usage_monthly.customer_id,
        usage_monthly.usage_month as month_start,
        usage_monthly.meter_id as sku_id,
        usage_monthly.meter_id,
        sum(usage_monthly.quantity) as usage_quantity,
        sum({{ decimal_multiply('usage_monthly.quantity', 'unit_cost.cost_per_unit_reporting') }}) as cost_reporting
    from usage_monthly
    inner join unit_cost
        on
            usage_monthly.meter_id = unit_cost.meter_id
            and usage_monthly.usage_month = unit_cost.month_start
    group by 1, 2, 3, 4
),

combined as (
    select
        coalesce(revenue.customer_id, usage_cost.customer_id) as customer_id,
        coalesce(revenue.month_start, usage_cost.month_start) as month_start,
        coalesce(revenue.sku_id, usage_cost.sku_id) as sku_id,
        coalesce(revenue.meter_id, usage_cost.meter_id) as meter_id,
        cast(coalesce(usage_cost.usage_quantity, 0) as decimal(38, 12)) as usage_quantity,
        cast(coalesce(revenue.revenue_reporting, 0) as decimal(38, 12)) as revenue_reporting,
        cast(coalesce(usage_cost.cost_reporting, 0) as decimal(38, 12)) as cost_reporting
    from revenue
    full outer join usage_cost
        on
            revenue.customer_id = usage_cost.customer_id
            and revenue.month_start = usage_cost.month_start
            and revenue.sku_id = usage_cost.sku_id
),

final as (
    select
        customer_id,
        month_start,
        sku_id,
        meter_id,
        (select min(fx_rates.reporting_currency) from fx_rates) as reporting_currency,
        usage_quantity,
        revenue_reporting,
        cost_reporting,
        cast(revenue_reporting - cost_reporting as decimal(38, 12)) as contribution_margin_reporting,
        {{ safe_divide('revenue_reporting', 'usage_quantity') }} as price_per_unit_reporting,
        {{ safe_divide('cost_reporting', 'usage_quantity') }} as cost_per_unit_reporting,
        {{ safe_divide('(revenue_reporting - cost_reporting) * 100', 'cost_reporting') }} as markup_on_cost_pct,
        {{ safe_divide('(revenue_reporting - cost_reporting) * 100', 'revenue_reporting') }} as margin_on_revenue_pct
    from combined
)

select * from final
