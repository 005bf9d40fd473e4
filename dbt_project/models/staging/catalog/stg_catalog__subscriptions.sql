with source as (
    select * from {{ source('raw', 'catalog_subscriptions') }}
),

final as (
    select
        subscription_id,
        tenant_id,
        customer_id,
        plan_id,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(billing_anchor_day as integer) as billing_anchor_day,
        billing_period,
        cast(trial_days as integer) as trial_days,
        cast(trial_usage_amount as decimal(38, 12)) as trial_usage_amount,
        currency
    from source
)

select * from final
