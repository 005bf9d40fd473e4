{#- Every revenue line: payout = billed - fee, and the fee never exceeds the billed amount. -#}
select *
from {{ ref('int_marketplace__revenue_lines') }}
where
    net_payout != billed_amount - listing_fee
    or abs(listing_fee) > abs(billed_amount)
