{#- Each sale is counted once in marketplace.fct_revenue_by_channel:
    1. the `direct` rows add up to exactly the subtotals of the invoices billed through Stripe
       (billing_channel = 'stripe'), per month and currency: no marketplace invoice is counted as direct;
    2. no Stripe-channel invoice covers a period in which the customer's marketplace identity was
       subscribed (the marketplace bills that usage: Stripe + marketplace would double count).
    Reads only marketplace models (not billing.fct_invoices directly), so `dbt build -s tag:invoicing`
    does not select it. -#}
with by_channel as (
    select * from {{ ref('fct_revenue_by_channel') }}
),

invoice_channels as (
    select * from {{ ref('int_marketplace__invoice_channels') }}
),

stripe_invoices as (
    select
        revenue_month,
        currency,
        sum(subtotal) as billed_amount
    from invoice_channels
    where billing_channel = 'stripe'
    group by revenue_month, currency
),

direct as (
    select revenue_month, currency, billed_amount
    from by_channel
    where channel = 'direct'
),

direct_mismatch as (
    select
        'direct revenue is not the Stripe-channel invoices' as problem,
        coalesce(direct.revenue_month, stripe_invoices.revenue_month) as revenue_month,
        coalesce(direct.currency, stripe_invoices.currency) as currency,
        cast(null as {{ dbt.type_string() }}) as invoice_id
    from direct
    full outer join stripe_invoices
        on
            direct.revenue_month = stripe_invoices.revenue_month
            and direct.currency = stripe_invoices.currency
    where coalesce(direct.billed_amount, 0) != coalesce(stripe_invoices.billed_amount, 0)
),

double_counted as (
    select
        'Stripe-channel invoice for a period the marketplace also bills' as problem,
        revenue_month,
        currency,
        invoice_id
    from invoice_channels
    where billing_channel = 'stripe' and marketplace_subscribed_in_period
)

select * from direct_mismatch
union all
select * from double_counted
