with source as (
    select * from {{ source('raw', 'catalog_plan_charges') }}
),

final as (
    select
        price_id,
        plan_id,
        cast(plan_version as integer) as plan_version,
        charge_id,
        charge_name,
        charge_type,
        meter_id,
        billing_timing,
        usage_interval,
        dimension_name,
        dimension_value,
        {{ catalog_price_term_columns() }}
    from source
)

select * from final
