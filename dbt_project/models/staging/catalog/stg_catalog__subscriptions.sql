{{ stage_catalog_table(source('raw', 'catalog_subscriptions'), [
    'subscription_id', 'tenant_id', 'customer_id', 'plan_id', 'start_date:date', 'end_date:date',
    'billing_anchor_day:integer', 'billing_period', 'trial_days:integer', 'trial_usage_amount:amount',
    'currency',
]) }}
