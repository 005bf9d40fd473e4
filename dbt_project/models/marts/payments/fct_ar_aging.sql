{{ config(schema='payments', materialized='table') }}
{#- Accounts receivable as of var('as_of_date') (default: the run date): every issued invoice with money
    still owed at the end of that day. State comes from the latest Stripe invoice event created before
    as_of_date + 1 day (half-open); an invoice with no event yet is owed in full. Paid, void and
    uncollectible (written off, see fct_dunning) invoices owe nothing. Buckets by days past due_date:
    current (not yet due), 1-30, 31-60, 61-90, 90+.
    Only Stripe-channel invoices (fct_invoices.billing_channel = 'stripe'): an invoice of a customer who
    buys through AWS, Azure or Google Marketplace is collected by the marketplace, which pays us out net
    of its fee (marketplace.fct_marketplace_reconciliation tracks those payouts); it is never owed to us
    via Stripe and never reaches Stripe, so listing it here would show it as forever unpaid. -#}
{%- set as_of = var('as_of_date', run_started_at.strftime('%Y-%m-%d')) -%}

with invoices as (
    select
        invoice_id, invoice_number, tenant_id, customer_id, billing_channel, currency,
        issue_date, due_date, total, total_minor
    from {{ ref('fct_invoices') }}
    where billing_channel = 'stripe' and issue_date <= cast('{{ as_of }}' as date)
),

-- Stripe's view of each invoice up to the end of the as-of day
invoice_events as (
    select usagebill_invoice_id, stripe_invoice_id, invoice_status, amount_remaining_minor, created_at, event_id
    from {{ ref('stg_stripe__invoice_events') }}
    where created_at < cast('{{ as_of }}' as date) + interval 1 day
        and usagebill_invoice_id is not null
),

-- Stripe's decimals against ISO 4217's minor unit per currency (https://docs.stripe.com/currencies)
currencies as (
    select currency, stripe_decimals, iso_minor_unit
    from {{ ref('stripe_currency_units') }}
),

latest_state as (
    select
        usagebill_invoice_id,
        stripe_invoice_id,
        invoice_status,
        amount_remaining_minor,
        row_number() over (partition by usagebill_invoice_id order by created_at desc, event_id desc) as recency
    from invoice_events
),

owed as (
    select
        invoices.invoice_id,
        invoices.invoice_number,
        invoices.tenant_id,
        invoices.customer_id,
        invoices.billing_channel,
        invoices.currency,
        invoices.issue_date,
        invoices.due_date,
        invoices.total,
        invoices.total_minor,
        latest_state.stripe_invoice_id,
        coalesce(latest_state.invoice_status, 'not_in_stripe') as stripe_status,
        case
            when latest_state.invoice_status in ('paid', 'void', 'uncollectible') then 0
            when latest_state.invoice_status is null then invoices.total_minor
            {#- Stripe's units -> ISO minor units (ISK: / 100, exact: Stripe keeps ISK amounts divisible by 100) #}
            else cast({{ decimal_multiply('latest_state.amount_remaining_minor',
                'case currencies.stripe_decimals - currencies.iso_minor_unit when 0 then 1 when 1 then 0.1 '
                ~ 'when 2 then 0.01 end') }} as bigint)
        end as outstanding_minor,
        {{ usagebill.days_between('invoices.due_date', "cast('" ~ as_of ~ "' as date)") }} as days_past_due
    from invoices
    left join latest_state
        on invoices.invoice_id = latest_state.usagebill_invoice_id
            and latest_state.recency = 1
    left join currencies on upper(invoices.currency) = currencies.currency
),

final as (
    select
        cast('{{ as_of }}' as date) as as_of_date,
        owed.invoice_id,
        owed.invoice_number,
        owed.tenant_id,
        owed.customer_id,
        owed.billing_channel,
        owed.currency,
        owed.issue_date,
        owed.due_date,
        owed.total,
        owed.stripe_invoice_id,
        owed.stripe_status,
        owed.outstanding_minor,
        {{ decimal_multiply('owed.outstanding_minor',
            'case currencies.iso_minor_unit when 0 then 1 when 1 then 0.1 when 2 then 0.01 when 3 then 0.001 end') }}
            as outstanding_amount,
        owed.days_past_due,
        case
            when owed.days_past_due <= 0 then 'current'
            when owed.days_past_due <= 30 then '1-30'
            when owed.days_past_due <= 60 then '31-60'
            when owed.days_past_due <= 90 then '61-90'
            else '90+'
        end as aging_bucket,
        case
            when owed.days_past_due <= 0 then 0
            when owed.days_past_due <= 30 then 1
            when owed.days_past_due <= 60 then 2
            when owed.days_past_due <= 90 then 3
            else 4
        end as aging_bucket_order
    from owed
    left join currencies on owed.currency = currencies.currency
    where owed.outstanding_minor > 0
)

select * from final
