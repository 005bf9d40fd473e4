{{ config(materialized='view', schema='staging') }}

{#- Candidate billing lines written by the pricing lab, one row per candidate and billing line.
    No back-test ran yet: same columns, typed, no rows (macro stage_raw_feed, macros/staging/raw_feed.sql). -#}
{{ stage_raw_feed('pricing_lab_lines', source('raw', 'pricing_lab_lines'), [
    'candidate', 'billing_line_id', 'tenant_id', 'customer_id', 'subscription_id', 'plan_id', 'charge_id', 'meter_id', 'line_type',
    'period_start:date', 'period_end:date', 'quantity:amount', 'amount:amount', 'amount_rounded:amount',
    'currency', 'window_start:date', 'window_end:date',
], typed_empty=true) }}
