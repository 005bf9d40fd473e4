{{ config(schema='payments', materialized='table') }}
{#- One row per paid Stripe invoice: the first invoice.paid event of each invoice. Amounts come from
    Stripe in Stripe's units (*_minor columns here) and are converted exactly with Stripe's decimals for the
    currency (seed stripe_currency_units: ISK is two-decimal in Stripe's API, https://docs.stripe.com/currencies).
    An invoice whose amount due was below Stripe's minimum charge is marked paid without a charge and the amount
    is carried to the customer's invoice balance (https://docs.stripe.com/api/invoices): carried_to_balance. -#}
with invoice_events as (
    select
        event_id, stripe_invoice_id, event_type, created_at, attempt_count, paid_out_of_band,
        usagebill_invoice_id, usagebill_customer_id, stripe_customer_id, currency,
        amount_paid_minor, amount_due_minor
    from {{ ref('stg_stripe__invoice_events') }}
    where event_type in ('invoice.paid', 'invoice.payment_failed')
),

-- Stripe's decimals and minimum charge per currency (https://docs.stripe.com/currencies)
currencies as (
    select currency, stripe_decimals, minimum_charge_minor
    from {{ ref('stripe_currency_units') }}
),

paid as (
    select
        *,
        row_number() over (partition by stripe_invoice_id order by created_at, event_id) as paid_rank
    from invoice_events
    where event_type = 'invoice.paid'
),

failures as (
    select
        stripe_invoice_id,
        count(*) as failed_attempts,
        min(created_at) as first_failed_at
    from invoice_events
    where event_type = 'invoice.payment_failed'
    group by stripe_invoice_id
),

final as (
    select
        paid.event_id as payment_id,
        paid.stripe_invoice_id,
        paid.usagebill_invoice_id,
        paid.usagebill_customer_id as customer_id,
        paid.stripe_customer_id,
        paid.currency,
        paid.amount_paid_minor,
        {{ from_minor_units('paid.amount_paid_minor', 'currencies.stripe_decimals') }}
            as amount_paid,
        paid.amount_due_minor,
        case
            when not paid.paid_out_of_band and paid.amount_due_minor > paid.amount_paid_minor
                then paid.amount_due_minor - paid.amount_paid_minor
            else 0
        end as carried_to_balance_minor,
        {{ from_minor_units(
            'case when not paid.paid_out_of_band and paid.amount_due_minor > paid.amount_paid_minor '
            ~ 'then paid.amount_due_minor - paid.amount_paid_minor else 0 end', 'currencies.stripe_decimals') }}
            as carried_to_balance,
        coalesce(
            not paid.paid_out_of_band and paid.amount_paid_minor = 0
            and paid.amount_due_minor > 0 and paid.amount_due_minor < currencies.minimum_charge_minor,
            false
        ) as is_below_minimum,
        paid.created_at as paid_at,
        paid.attempt_count,
        paid.paid_out_of_band,
        coalesce(failures.failed_attempts, 0) as failed_attempts_before_payment,
        failures.first_failed_at,
        failures.first_failed_at is not null and failures.first_failed_at <= paid.created_at as is_recovered
    from paid
    left join currencies on paid.currency = currencies.currency
    left join failures on paid.stripe_invoice_id = failures.stripe_invoice_id
    where paid.paid_rank = 1
)

select * from final
