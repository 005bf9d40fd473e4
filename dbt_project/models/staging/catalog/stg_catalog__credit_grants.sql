with source as (
    select * from {{ source('raw', 'catalog_credit_grants') }}
),

final as (
    select
        grant_id,
        tenant_id,
        customer_id,
        currency,
        cast(amount as decimal(38, 12)) as amount,
        cast(granted_at as date) as granted_at,
        cast(expires_at as date) as expires_at,
        description
    from source
)

select * from final
