{{ config(schema='analytics') }}

{#- Unit cost per meter (SKU of usage) and month (see doc unit_cost): total, fixed and variable
    cost of the month attributed to the meter in the FOCUS export (usagebill_meter), divided by
    the month's metered quantity in the meter's unit (fct_usage_monthly, all customers).
    Example (pricing-examples.md case 4): $87.00 of GPU cost for 10,000,000 ms ->
    $0.0000087 per ms = $0.0087 per 1K ms. Shared cost (no meter) is in fct_cost_breakdown,
    not spread here. -#}

with

costs as (
    select * from {{ ref('stg_costs__cloud_costs') }}
),

usage_monthly as (
    select * from {{ ref('fct_usage_monthly') }}
),

fx_rates as (
    select * from {{ ref('analytics_fx_rates') }}
),

meter_costs as (
    select
        cast({{ trunc_to('month', 'charge_period_start') }} as date) as month_start,
        meter_id,
        billing_currency as currency,
        sum(billed_cost) as total_cost,
        sum(case when cost_kind = 'fixed' then billed_cost else 0 end) as fixed_cost,
        sum(case when cost_kind = 'variable' then billed_cost else 0 end) as variable_cost
    from costs
    where meter_id is not null
    group by 1, 2, 3
),

meter_usage as (
    select
        usage_month as month_start,
        meter_id,
        sum(quantity) as usage_quantity
    from usage_monthly
    group by 1, 2
),

final as (
    select
        meter_costs.month_start,
        meter_costs.meter_id,
        meter_costs.currency,
        cast(meter_costs.total_cost as decimal(38, 12)) as total_cost,
        cast(meter_costs.fixed_cost as decimal(38, 12)) as fixed_cost,
        cast(meter_costs.variable_cost as decimal(38, 12)) as variable_cost,
        cast(coalesce(meter_usage.usage_quantity, 0) as decimal(38, 12)) as usage_quantity,
        {{ safe_divide('meter_costs.total_cost', 'meter_usage.usage_quantity') }} as cost_per_unit,
        {{ safe_divide('meter_costs.variable_cost', 'meter_usage.usage_quantity') }} as variable_cost_per_unit,
        {{ safe_divide('meter_costs.total_cost * 1000', 'meter_usage.usage_quantity') }} as cost_per_1k_units,
        fx_rates.reporting_currency,
        {{ decimal_multiply(safe_divide('meter_costs.total_cost', 'meter_usage.usage_quantity'), 'fx_rates.rate_to_reporting') }}
            as cost_per_unit_reporting
    from meter_costs
    left join meter_usage
        on
            meter_costs.meter_id = meter_usage.meter_id
            and meter_costs.month_start = meter_usage.month_start
    left join fx_rates
        on meter_costs.currency = fx_rates.currency
)

select * from final
