{{ config(materialized='table', schema='marketplace') }}

{#- Revenue, MRR and ARR by sales channel (aws, azure, google, direct) per month and currency.
    - Marketplace channels: what the marketplaces billed (marketplace.fct_marketplace_revenue), their
      listing fees and payouts.
    - direct: invoices (billing.fct_invoices) whose billing_channel is 'stripe' (the only ones exported
      to Stripe); invoices of marketplace subscriptions stay in the books but their sale is the
      marketplace's row, so each sale is counted once; an invoice's subtotal (tax excluded) counts in the month its period starts, a period of
      n months contributing subtotal / n to the MRR of its first month (annual plans: 1/12).
    MRR = the month's recurring revenue of the channel; ARR = MRR x 12. -#}

with marketplace_revenue as (
    select * from {{ ref('fct_marketplace_revenue') }}
),

invoices as (
    select * from {{ ref('fct_invoices') }}
),

invoice_months as (
    select
        invoices.*,
        {{ months_between_starts(trunc_to('month', 'invoices.period_start'), trunc_to('month', 'invoices.period_end')) }}
            as period_months
    from invoices
),

direct as (
    select
        'direct' as channel,
        cast({{ trunc_to('month', 'invoice_months.period_start') }} as date) as revenue_month,
        invoice_months.currency,
        invoice_months.customer_id,
        cast(invoice_months.subtotal as decimal(38, 12)) as billed_amount,
        cast(0 as decimal(38, 12)) as listing_fee,
        cast(invoice_months.subtotal as decimal(38, 12)) as net_revenue,
        cast(case
            when invoice_months.period_months > 1
                then {{ safe_divide('invoice_months.subtotal', 'invoice_months.period_months') }}
            else invoice_months.subtotal
        end as decimal(38, 12)) as mrr_amount
    from invoice_months
    where invoice_months.billing_channel = 'stripe'
),

marketplace as (
    select
        marketplace as channel,
        revenue_month,
        currency,
        customer_id,
        billed_amount,
        listing_fee,
        net_payout as net_revenue,
        billed_amount as mrr_amount
    from marketplace_revenue
),

all_channels as (
    select * from direct
    union all
    select * from marketplace
),

final as (
    select
        channel,
        revenue_month,
        currency,
        count(distinct customer_id) as customers,
        cast(sum(billed_amount) as decimal(38, 12)) as billed_amount,
        cast(sum(listing_fee) as decimal(38, 12)) as listing_fee,
        cast(sum(net_revenue) as decimal(38, 12)) as net_revenue,
        cast(sum(mrr_amount) as decimal(38, 12)) as mrr,
        cast(sum(mrr_amount) * 12 as decimal(38, 12)) as arr
    from all_channels
    group by channel, revenue_month, currency
)

select * from final
