{{ config(materialized='view', schema='intermediate') }}

{#- Cloud cost per month grouped into allocation pools (see doc cost_allocation):
    - direct: cost dedicated to one customer (the export names it) -> that customer;
    - usage: cost of a meter, or of one dimension value of a meter (gpu_ms with gpu_type = h100)
      -> the customers using it, in proportion to their metered quantity;
    - shared: everything else (support, networking nobody tagged, ...) -> every customer, in
      proportion to its revenue of the month (the documented driver).
    Amounts in the cost currency and in the reporting currency (seed analytics_fx_rates). -#}

with

costs as (
    select
        charge_period_start,
        billing_currency,
        tenant_id,
        customer_id,
        meter_id,
        dimension_name,
        dimension_value,
        cost_kind,
        billed_cost
    from {{ ref('stg_costs__cloud_costs') }}
),

fx_rates as (
    select currency, reporting_currency, rate_to_reporting from {{ ref('analytics_fx_rates') }}
),

pools as (
    select
        cast({{ trunc_to('month', 'charge_period_start') }} as date) as month_start,
        billing_currency as currency,
        case
            when customer_id is not null then 'direct'
            when meter_id is not null then 'usage'
            else 'shared'
        end as pool_type,
        meter_id,
        dimension_name,
        dimension_value,
        tenant_id,
        customer_id,
        sum(billed_cost) as total_cost,
        sum(case when cost_kind = 'fixed' then billed_cost else 0 end) as fixed_cost,
        sum(case when cost_kind = 'variable' then billed_cost else 0 end) as variable_cost
    from costs
    group by 1, 2, 3, 4, 5, 6, 7, 8
),

final as (
    select
        {{ surrogate_key([
            'pools.month_start', 'pools.currency', 'pools.pool_type', 'pools.meter_id', 'pools.dimension_name',
            'pools.dimension_value', 'pools.tenant_id', 'pools.customer_id'
        ]) }} as pool_id,
        pools.month_start,
        pools.currency,
        pools.pool_type,
        pools.meter_id,
        pools.dimension_name,
        pools.dimension_value,
        pools.tenant_id,
        pools.customer_id,
        cast(pools.total_cost as decimal(38, 12)) as total_cost,
        cast(pools.fixed_cost as decimal(38, 12)) as fixed_cost,
        cast(pools.variable_cost as decimal(38, 12)) as variable_cost,
        fx_rates.reporting_currency,
        {{ decimal_multiply('pools.total_cost', 'fx_rates.rate_to_reporting') }} as total_cost_reporting,
        {{ decimal_multiply('pools.fixed_cost', 'fx_rates.rate_to_reporting') }} as fixed_cost_reporting,
        {{ decimal_multiply('pools.variable_cost', 'fx_rates.rate_to_reporting') }} as variable_cost_reporting
    from pools
    left join fx_rates
        on pools.currency = fx_rates.currency
)

select * from final
