{#- Dated rates into a marketplace's listing currency: rate = units of to_currency per 1 from_currency,
    effective from effective_date until the next row of the same pair (exports/marketplace/fx.py).
    Typing and the empty row set before the first load: macro stage_raw_feed (macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('marketplace/fx_rates', source('raw', 'marketplace_fx_rates'), [
    'from_currency:upper', 'to_currency:upper', 'rate:amount', 'effective_date:date',
]) }}
