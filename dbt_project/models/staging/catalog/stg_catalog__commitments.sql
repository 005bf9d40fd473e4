with source as (
    select * from {{ source('raw', 'catalog_commitments') }}
),

final as (
    select
        commitment_id,
        subscription_id,
        plan_id,
        cast(amount as decimal(38, 12)) as amount,
        currency,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to
    from source
)

select * from final
