with source as (
    select * from {{ source('raw', 'catalog_charge_tiers') }}
),

final as (
    select
        price_id,
        cast(tier as integer) as tier,
        cast(lower_bound as decimal(38, 12)) as lower_bound,
        cast(up_to as decimal(38, 12)) as up_to,
        cast(unit_price as decimal(38, 12)) as unit_price,
        cast(flat_fee as decimal(38, 12)) as flat_fee
    from source
)

select * from final
