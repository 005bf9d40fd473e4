{{ config(severity='warn') }}
{#- Marketplace reconciliation: every customer-month whose billed usage, ledger answers and billing feed
    disagree (status no_rate / over_reported / feed_mismatch). A warning, so the rest of the build goes
    on: the reporters block exactly these customers' exports (blocks_export) until it is resolved. -#}
select *
from {{ ref('fct_marketplace_reconciliation') }}
where blocks_export
