{#- Each sale is counted once in marketplace.fct_revenue_by_channel:
    1. the `direct` rows add up to exactly the subtotals of the invoices billed through Stripe
       (billing_channel = 'stripe'), per month and currency: no marketplace invoice is counted as direct;
    2. no Stripe-channel invoice covers a period in which the customer's marketplace identity was
       subscribed (the marketplace bills that usage: Stripe + marketplace would double count).
    Reads only marketplace models (not billing.fct_invoices directly), so `dbt build -s tag:invoicing`
    does not select it. -#}
with direct as (
    select
        revenue_month,
        currency,
        billed_amount
    from {{ ref('fct_revenue_by_channel') }}
    where channel = 'direct'
),

stripe_channel_invoices as (
    select
        invoice_id,
        revenue_month,
        currency,
        subtotal,
        marketplace_subscribed_in_period
    from {{ ref('int_marketplace__invoice_channels') }}
    where billing_channel = 'stripe'
),

stripe_invoices as (
    select
        revenue_month,
        currency,
        sum(subtotal) as billed_amount
    from stripe_channel_invoices
    group by revenue_month, currency
),

direct_mismatch as (
    select
        'direct revenue is not the Stripe-channel invoices' as problem,
        {{ coalesce_keys(['revenue_month', 'currency'], 'direct', 'stripe_invoices') }},
        cast(null as {{ dbt.type_string() }}) as invoice_id
    from direct
    full outer join stripe_invoices
        on
            {{ keys_match(['revenue_month', 'currency'], 'direct', 'stripe_invoices') }}
    where coalesce(direct.billed_amount, 0) != coalesce(stripe_invoices.billed_amount, 0)
),

double_counted as (
    select
        'Stripe-channel invoice for a period the marketplace also bills' as problem,
        revenue_month,
        currency,
        invoice_id
    from stripe_channel_invoices
    where marketplace_subscribed_in_period
)

select * from direct_mismatch
union all
select * from double_counted
