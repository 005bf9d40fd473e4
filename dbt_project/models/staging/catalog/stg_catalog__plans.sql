with source as (
    select * from {{ source('raw', 'catalog_plans') }}
),

final as (
    select
        plan_id,
        name,
        currency,
        billing_period
    from source
)

select * from final
