with source as (
    select * from {{ source('raw', 'catalog_contract_prices') }}
),

final as (
    select
        price_id,
        contract_id,
        tenant_id,
        customer_id,
        plan_id,
        charge_id,
        dimension_value,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,
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
