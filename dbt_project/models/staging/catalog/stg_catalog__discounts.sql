with source as (
    select * from {{ source('raw', 'catalog_discounts') }}
),

final as (
    select
        discount_id,
        name,
        tenant_id,
        customer_id,
        subscription_id,
        plan_id,
        discount_type,
        cast(percent as decimal(38, 12)) as percent,
        cast(amount as decimal(38, 12)) as amount,
        applies_to,
        duration,
        cast(duration_periods as integer) as duration_periods,
        cast(start_date as date) as start_date
    from source
)

select * from final
