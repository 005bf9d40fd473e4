{{ stage_catalog_table(source('raw', 'catalog_plans'), [
    'plan_id', 'name', 'currency', 'billing_period',
]) }}
