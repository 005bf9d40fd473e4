{{ config(schema='analytics') }}

{#- Margin per customer, SKU and month (see doc margin_vs_markup), in the reporting currency.
    Revenue: the customer's revenue of the month spread over service periods by days
    (int_analytics__revenue_by_sku: usage charges under their meter, other charges under their
    charge id). contribution margin = revenue - variable cost; gross margin = revenue - all cost
    attributed to the SKU (fixed + variable). Cost: the cost allocated to the customer by usage or directly for that meter
    (fct_customer_cost; shared cost is allocated per customer in fct_margin_by_customer). Both
    ratios on the gross figures, named:
      markup_on_cost_pct     = (revenue - cost) / cost * 100
      margin_on_revenue_pct  = (revenue - cost) / revenue * 100
    e.g. $0.01 price on $0.0087 cost: markup 14.94 %, margin 13.0 % (pricing-examples.md case 4). -#}

with

revenue as (
    select
        tenant_id,
        customer_id,
        month_start,
        sku_id,
        meter_id,
        revenue_reporting
    from {{ ref('int_analytics__revenue_by_sku') }}
),

customer_cost as (
    select
        tenant_id,
        customer_id,
        month_start,
        meter_id,
        variable_cost_reporting,
        fixed_cost_reporting,
        cost_reporting
    from {{ ref('fct_customer_cost') }}
    where allocation_method in ('usage', 'direct')
),

usage_monthly as (
    {#- a meter's usage is the quantity of the SKU named after it -#}
    select
        tenant_id,
        customer_id,
        usage_month as month_start,
        meter_id as sku_id,
        quantity
    from {{ ref('fct_usage_monthly') }}
),

fx_rates as (
    select reporting_currency from {{ ref('analytics_fx_rates') }}
),

revenue_by_sku as (
    select
        tenant_id,
        customer_id,
        month_start,
        sku_id,
        min(meter_id) as meter_id,
        sum(revenue_reporting) as revenue_reporting
    from revenue
    group by 1, 2, 3, 4
),

cost_by_sku as (
    select
        tenant_id,
        customer_id,
        month_start,
        coalesce(meter_id, '(direct)') as sku_id,
        min(meter_id) as meter_id,
        sum(variable_cost_reporting) as variable_cost_reporting,
        sum(fixed_cost_reporting) as fixed_cost_reporting,
        sum(cost_reporting) as cost_reporting
    from customer_cost
    group by 1, 2, 3, 4
),

quantities as (
    select
        tenant_id,
        customer_id,
        month_start,
        sku_id,
        sum(quantity) as usage_quantity
    from usage_monthly
    group by 1, 2, 3, 4
),

{%- set keys = ['tenant_id', 'customer_id', 'month_start', 'sku_id'] %}

combined as (
    select
        {{ coalesce_keys(keys + ['meter_id'], 'revenue_by_sku', 'cost_by_sku') }},
        {{ zero_filled('revenue_by_sku', ['revenue_reporting']) }},
        {{ zero_filled('cost_by_sku', ['variable_cost_reporting', 'fixed_cost_reporting', 'cost_reporting']) }}
    from revenue_by_sku
    full outer join cost_by_sku
        on
            {{ keys_match(keys, 'revenue_by_sku', 'cost_by_sku') }}
),

final as (
    select
        combined.tenant_id,
        combined.customer_id,
        combined.month_start,
        combined.sku_id,
        combined.meter_id,
        (select min(fx_rates.reporting_currency) from fx_rates) as reporting_currency,
        cast(coalesce(quantities.usage_quantity, 0) as decimal(38, 12)) as usage_quantity,
        combined.revenue_reporting,
        combined.variable_cost_reporting,
        combined.fixed_cost_reporting,
        combined.cost_reporting,
        cast(combined.revenue_reporting - combined.variable_cost_reporting as decimal(38, 12))
            as contribution_margin_reporting,
        cast(combined.revenue_reporting - combined.cost_reporting as decimal(38, 12)) as gross_margin_reporting,
        {{ safe_divide('combined.revenue_reporting', 'quantities.usage_quantity') }} as price_per_unit_reporting,
        {{ safe_divide('combined.cost_reporting', 'quantities.usage_quantity') }} as cost_per_unit_reporting,
        {{ safe_divide('(combined.revenue_reporting - combined.cost_reporting) * 100', 'combined.cost_reporting') }}
            as markup_on_cost_pct,
        {{ safe_divide('(combined.revenue_reporting - combined.cost_reporting) * 100', 'combined.revenue_reporting') }}
            as margin_on_revenue_pct
    from combined
    left join quantities
        on
            {{ keys_match(keys, 'combined', 'quantities') }}
)

select * from final
