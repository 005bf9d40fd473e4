{{ config(schema='analytics') }}

{#- Cloud cost per month (of charge_period_start), provider, service, SKU, charge category,
    cost kind (fixed / variable) and the meter it serves (null = shared cost), from the FOCUS
    export. Amounts DECIMAL(38,12) in the billing currency and in the reporting currency. -#}

with

costs as (
    select * from {{ ref('stg_costs__cloud_costs') }}
),

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

monthly as (
    select
        cast({{ trunc_to('month', 'charge_period_start') }} as date) as month_start,
        provider_name,
        service_name,
        sku_id,
        charge_category,
        cost_kind,
        meter_id,
        dimension_name,
        dimension_value,
        customer_id,
        billing_currency,
        consumed_unit,
        sum(billed_cost) as billed_cost,
        sum(consumed_quantity) as consumed_quantity
    from costs
    group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
),

final as (
    select
        monthly.month_start,
        monthly.provider_name,
        monthly.service_name,
        monthly.sku_id,
        monthly.charge_category,
        monthly.cost_kind,
        monthly.meter_id,
        monthly.dimension_name,
        monthly.dimension_value,
        monthly.customer_id,
        monthly.billing_currency,
        monthly.consumed_unit,
        cast(monthly.billed_cost as decimal(38, 12)) as billed_cost,
        cast(monthly.consumed_quantity as decimal(38, 12)) as consumed_quantity,
        fx_rates.reporting_currency,
        {{ decimal_multiply('monthly.billed_cost', 'fx_rates.rate_to_reporting') }} as billed_cost_reporting
    from monthly
    left join fx_rates
        on monthly.billing_currency = fx_rates.currency
)

select * from final
