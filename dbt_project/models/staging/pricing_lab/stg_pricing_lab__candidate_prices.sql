{{ config(materialized='view', schema='staging') }}

{#- Per-unit usage prices of the candidate price books, one row per candidate, plan version and meter.
    No back-test ran yet: same columns, typed, no rows (macro stage_raw_feed, macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('pricing_lab_prices', source('raw', 'pricing_lab_prices'), [
    'candidate', 'plan_id', 'plan_version:integer', 'meter_id', 'unit_price:amount', 'unit_size:amount',
], typed_empty=true) }}
