{#- Every issued invoice with its billing channel and whether the customer's marketplace identity was
    subscribed during the invoice period (then the marketplace meters that usage, so the invoice must not
    bill through Stripe). Read by the test assert_revenue_by_channel_counts_each_sale_once. -#}

with invoices as (
    select
        invoice_id,
        billing_channel,
        tenant_id,
        customer_id,
        period_start,
        period_end,
        subscription_id,
        currency,
        subtotal
    from {{ ref('fct_invoices') }}
),

identities as (
    select tenant_id, customer_id, valid_from, valid_to from {{ ref('stg_marketplace__identities') }}
    where state = 'subscribed'
),

marketplace_periods as (
    select distinct invoices.invoice_id
    from invoices
    inner join identities
        on
            invoices.tenant_id = identities.tenant_id
            and invoices.customer_id = identities.customer_id
            and cast(identities.valid_from as date) < invoices.period_end
            and (identities.valid_to is null or cast(identities.valid_to as date) > invoices.period_start)
),

final as (
    select
        invoices.invoice_id,
        invoices.tenant_id,
        invoices.customer_id,
        invoices.subscription_id,
        invoices.currency,
        cast({{ trunc_to('month', 'invoices.period_start') }} as date) as revenue_month,
        invoices.subtotal,
        invoices.billing_channel,
        marketplace_periods.invoice_id is not null as marketplace_subscribed_in_period
    from invoices
    left join marketplace_periods on invoices.invoice_id = marketplace_periods.invoice_id
)

select * from final
