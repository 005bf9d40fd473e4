{{ config(materialized='table', schema='marketplace') }}

{#- Revenue, MRR and ARR by sales channel (aws, azure, google, direct) per month and currency.
    - Marketplace channels: what the marketplaces billed (marketplace.fct_marketplace_revenue), their
      listing fees and payouts.
    - direct: invoices (billing.fct_invoices) whose billing_channel is 'stripe' (the only ones exported
      to Stripe); invoices of marketplace subscriptions stay in the books but their sale is the
      marketplace's row, so each sale is counted once; an invoice's subtotal (tax excluded) counts in
      the month its period starts.
    MRR: one definition for the whole product: analytics.fct_mrr (usage-inclusive, fees spread over
    their service period by days) summed over the customers of the channel (the billing_channel of
    the customer's invoices: a marketplace, or 'stripe' = direct); ARR = MRR x 12. The test
    assert_channel_mrr_matches_fct_mrr proves the channels add up to fct_mrr per month and
    currency.
    Customers are (tenant_id, customer_id): the same customer id in two tenants is two customers. -#}

with marketplace as (
    {#- in the column order of `direct` below (the two are unioned) -#}
    select
        marketplace as channel,
        revenue_month,
        currency,
        tenant_id,
        customer_id,
        billed_amount,
        listing_fee,
        net_payout as net_revenue
    from {{ ref('fct_marketplace_revenue') }}
),

invoices as (
    select
        tenant_id,
        customer_id,
        billing_channel,
        period_start,
        currency,
        subtotal
    from {{ ref('fct_invoices') }}
),

mrr as (
    select
        tenant_id,
        customer_id,
        month_start,
        currency,
        mrr
    from {{ ref('fct_mrr') }}
),

customer_channels as (
    select
        tenant_id,
        customer_id,
        min(case when billing_channel = 'stripe' then 'direct' else billing_channel end) as channel
    from invoices
    group by tenant_id, customer_id
),

mrr_by_channel as (
    select
        coalesce(customer_channels.channel, 'direct') as channel,
        mrr.month_start as revenue_month,
        mrr.currency,
        sum(mrr.mrr) as mrr
    from mrr
    left join customer_channels
        on
            {{ keys_match(['tenant_id', 'customer_id'], 'mrr', 'customer_channels') }}
    group by 1, 2, 3
),

direct as (
    select
        'direct' as channel,
        cast({{ trunc_to('month', 'invoices.period_start') }} as date) as revenue_month,
        invoices.currency,
        invoices.tenant_id,
        invoices.customer_id,
        cast(invoices.subtotal as decimal(38, 12)) as billed_amount,
        cast(0 as decimal(38, 12)) as listing_fee,
        cast(invoices.subtotal as decimal(38, 12)) as net_revenue
    from invoices
    where invoices.billing_channel = 'stripe'
),

all_channels as (
    select * from direct
    union all
    select * from marketplace
),

billed as (
    select
        channel,
        revenue_month,
        currency,
        count(distinct {{ dbt.concat(['tenant_id', "'/'", 'customer_id']) }}) as customers,
        sum(billed_amount) as billed_amount,
        sum(listing_fee) as listing_fee,
        sum(net_revenue) as net_revenue
    from all_channels
    group by 1, 2, 3
),

{%- set channel_month = ['channel', 'revenue_month', 'currency'] %}

final as (
    select
        {{ coalesce_keys(channel_month, 'billed', 'mrr_by_channel') }},
        coalesce(billed.customers, 0) as customers,
        cast(coalesce(billed.billed_amount, 0) as decimal(38, 12)) as billed_amount,
        cast(coalesce(billed.listing_fee, 0) as decimal(38, 12)) as listing_fee,
        cast(coalesce(billed.net_revenue, 0) as decimal(38, 12)) as net_revenue,
        cast(coalesce(mrr_by_channel.mrr, 0) as decimal(38, 12)) as mrr,
        cast(coalesce(mrr_by_channel.mrr, 0) * 12 as decimal(38, 12)) as arr
    from billed
    full outer join mrr_by_channel
        on
            {{ keys_match(channel_month, 'billed', 'mrr_by_channel') }}
)

select * from final
