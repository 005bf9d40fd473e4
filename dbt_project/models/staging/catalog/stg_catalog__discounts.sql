{{ stage_catalog_table(source('raw', 'catalog_discounts'), [
    'discount_id', 'name', 'tenant_id', 'customer_id', 'subscription_id', 'plan_id', 'discount_type',
    'percent:amount', 'amount:amount', 'applies_to', 'duration', 'duration_periods:integer',
    'start_date:date',
]) }}
