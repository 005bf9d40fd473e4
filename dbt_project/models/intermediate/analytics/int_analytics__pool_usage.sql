{{ config(materialized='view', schema='intermediate') }}

{#- Each customer's metered quantity in each usage cost pool of the month: usage of the pool's
    meter, and when the pool is one dimension value (gpu_type = h100) only the usage with that
    value (fct_usage_monthly.dimensions_json); a pool the export tags with a tenant only that
    tenant's usage. The driver of the usage allocation. -#}

with

pools as (
    select
        pool_id,
        month_start,
        tenant_id,
        meter_id,
        dimension_name,
        dimension_value
    from {{ ref('int_analytics__cost_pools') }}
    where pool_type = 'usage'
),

usage_monthly as (
    select
        tenant_id,
        customer_id,
        usage_month,
        meter_id,
        dimensions_json,
        quantity
    from {{ ref('fct_usage_monthly') }}
),

final as (
    select
        pools.pool_id,
        usage_monthly.tenant_id,
        usage_monthly.customer_id,
        cast(sum(usage_monthly.quantity) as decimal(38, 12)) as usage_quantity
    from pools
    inner join usage_monthly
        on
            pools.meter_id = usage_monthly.meter_id
            and pools.month_start = usage_monthly.usage_month
            and (pools.tenant_id is null or pools.tenant_id = usage_monthly.tenant_id)
            and (
                pools.dimension_name is null
                or {{ json_property('usage_monthly.dimensions_json', 'pools.dimension_name') }} = pools.dimension_value
            )
    group by 1, 2, 3
)

select * from final
