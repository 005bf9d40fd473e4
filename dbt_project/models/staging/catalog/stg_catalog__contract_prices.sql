{{ stage_catalog_table(source('raw', 'catalog_contract_prices'), [
    'price_id', 'contract_id', 'tenant_id', 'customer_id', 'plan_id', 'charge_id', 'dimension_value',
    'effective_from:date', 'effective_to:date',
] + catalog_price_term_specs()) }}
