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
        price_model,
        cast(amount as decimal(38, 12)) as amount,
        cast(unit_price as decimal(38, 12)) as unit_price,
        cast(unit_size as decimal(38, 12)) as unit_size,
        block_rounding,
        cast(package_size as decimal(38, 12)) as package_size,
        cast(package_price as decimal(38, 12)) as package_price,
        cast(included_units as decimal(38, 12)) as included_units,
        cast(rate as decimal(38, 12)) as rate,
        cast(fixed_fee as decimal(38, 12)) as fixed_fee,
        cast(free_events as integer) as free_events,
        cast(free_amount as decimal(38, 12)) as free_amount,
        cast(min_per_event as decimal(38, 12)) as min_per_event,
        cast(max_per_event as decimal(38, 12)) as max_per_event
    from source
)

select * from final
