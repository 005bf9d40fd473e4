{{ config(materialized='table', schema='marketplace') }}

{#- Marketplace revenue per marketplace, customer, month and currency: billed, listing fee, payout.
    Fees are rounded once per feed line (int_marketplace__revenue_lines); totals are sums of lines. -#}

with lines as (
    select * from {{ ref('int_marketplace__revenue_lines') }}
),

final as (
    select
        marketplace,
        tenant_id,
        customer_id,
        revenue_month,
        currency,
        cast(sum(billed_amount) as decimal(38, 12)) as billed_amount,
        cast(sum(listing_fee) as decimal(38, 12)) as listing_fee,
        cast(sum(net_payout) as decimal(38, 12)) as net_payout,
        cast(sum(expected_fee) as decimal(38, 12)) as expected_fee,
        cast(sum(listing_fee) - sum(expected_fee) as decimal(38, 12)) as fee_difference,
        max(listing_fee_pct) as listing_fee_pct,
        count(*) as line_count
    from lines
    group by marketplace, tenant_id, customer_id, revenue_month, currency
)

select * from final
