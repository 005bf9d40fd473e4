{#- Listing fee percent per marketplace and the parity tolerance.
    Amounts arrive as exact decimal text and are cast to DECIMAL(38,12); times are UTC.
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/fees', source('raw', 'marketplace_fees'), [
    'marketplace', 'listing_fee_pct:amount', 'parity_tolerance_pct:amount',
]) }}
