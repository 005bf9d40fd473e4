{{ stage_catalog_table(source('raw', 'catalog_plan_charges'), [
    'price_id', 'plan_id', 'plan_version:integer', 'charge_id', 'charge_name', 'charge_type',
    'meter_id', 'billing_timing', 'usage_interval', 'dimension_name', 'dimension_value',
] + catalog_price_term_specs()) }}
