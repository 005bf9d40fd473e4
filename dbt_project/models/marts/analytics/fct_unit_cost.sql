{{ config(schema='analytics') }}

{#- Unit cost per meter, dimension value and month (see doc unit_cost): the cost of a usage pool
    (int_analytics__cost_pools: a meter, or one dimension value of it such as gpu_type = h100)
    divided by the metered quantity that pool serves (int_analytics__pool_usage, all customers).
    Example (pricing-examples.md case 4): $87.00 of GPU cost for 10,000,000 ms ->
    $0.0000087 per ms = $0.0087 per 1K ms. When the export prices GPU types differently each type
    has its own row and its own rate (no blended rate). Direct and shared cost are not in unit
    cost (fct_customer_cost allocates them). -#}

with

pools as (
    select
        pool_id,
        month_start,
        meter_id,
        dimension_name,
        dimension_value,
        currency,
        total_cost,
        fixed_cost,
        variable_cost
    from {{ ref('int_analytics__cost_pools') }}
    where pool_type = 'usage'
),

pool_usage as (
    select pool_id, usage_quantity from {{ ref('int_analytics__pool_usage') }}
),

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

usage_totals as (
    select
        pool_id,
        sum(usage_quantity) as usage_quantity
    from pool_usage
    group by 1
),

final as (
    select
        pools.month_start,
        pools.meter_id,
        pools.dimension_name,
        pools.dimension_value,
        pools.currency,
        pools.total_cost,
        pools.fixed_cost,
        pools.variable_cost,
        cast(coalesce(usage_totals.usage_quantity, 0) as decimal(38, 12)) as usage_quantity,
        {{ safe_divide('pools.total_cost', 'usage_totals.usage_quantity') }} as cost_per_unit,
        {{ safe_divide('pools.variable_cost', 'usage_totals.usage_quantity') }} as variable_cost_per_unit,
        {{ safe_divide('pools.total_cost * 1000', 'usage_totals.usage_quantity') }} as cost_per_1k_units,
        fx_rates.reporting_currency,
        {{ decimal_multiply(safe_divide('pools.total_cost', 'usage_totals.usage_quantity'), 'fx_rates.rate_to_reporting') }}
            as cost_per_unit_reporting
    from pools
    left join usage_totals
        on pools.pool_id = usage_totals.pool_id
    left join fx_rates
        on pools.currency = fx_rates.currency
)

select * from final
