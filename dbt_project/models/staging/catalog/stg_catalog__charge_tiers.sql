{{ stage_catalog_table(source('raw', 'catalog_charge_tiers'), [
    'price_id', 'tier:integer', 'lower_bound:amount', 'up_to:amount', 'unit_price:amount',
    'flat_fee:amount',
]) }}
