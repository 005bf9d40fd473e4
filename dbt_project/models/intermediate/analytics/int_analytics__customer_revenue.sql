{{ config(materialized='view', schema='intermediate') }}

{#- Each customer's revenue per month in the reporting currency, spread over service periods by
    days (int_analytics__revenue_by_sku summed over SKUs and plans): the revenue side of every margin
    and the driver of shared-cost allocation. A customer is (tenant_id, customer_id). -#}

with

revenue_by_sku as (
    select
        tenant_id,
        customer_id,
        month_start,
        revenue_reporting
    from {{ ref('int_analytics__revenue_by_sku') }}
),

final as (
    select
        tenant_id,
        customer_id,
        month_start,
        sum(revenue_reporting) as revenue_reporting
    from revenue_by_sku
    group by 1, 2, 3
)

select * from final
