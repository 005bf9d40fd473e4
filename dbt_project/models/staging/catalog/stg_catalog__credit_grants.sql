{{ stage_catalog_table(source('raw', 'catalog_credit_grants'), [
    'grant_id', 'tenant_id', 'customer_id', 'currency', 'amount:amount', 'granted_at:date',
    'expires_at:date', 'description',
]) }}
