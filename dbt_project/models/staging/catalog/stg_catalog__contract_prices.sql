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
        {{ catalog_price_term_columns() }}
    from source
)

select * from final
