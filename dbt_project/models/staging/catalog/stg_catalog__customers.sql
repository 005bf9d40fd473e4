{{ stage_catalog_table(source('raw', 'catalog_customers'), [
    'tenant_id', 'customer_id', 'name', 'email', 'country', 'currency', 'customer_type', 'tax_id',
    'tax_exempt:boolean', 'created_at:date', 'address_json',
]) }}
