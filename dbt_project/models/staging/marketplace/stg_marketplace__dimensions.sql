{#- Marketplace dimensions of the offering catalog.
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC.
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/dimensions', source('raw', 'marketplace_dimensions'), [
    'marketplace', 'offering_id', 'product_id', 'dimension', 'meter_id', 'unit',
    'unit_price:amount', 'currency:upper', 'meter_units_per_unit:amount', 'filters_json', 'plan_id',
]) }}
