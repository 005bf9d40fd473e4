{{ stage_catalog_table(source('raw', 'catalog_tax_rates'), [
    'tax_rate_id', 'name>tax_name', 'country', 'state', 'customer_type', 'rate:amount',
    'inclusive:boolean>is_inclusive', 'valid_from:date', 'valid_to:date', 'note>tax_note',
]) }}
