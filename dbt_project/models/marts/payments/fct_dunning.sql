{{ config(schema='payments', materialized='table') }}
{#- One row per Stripe invoice that had at least one failed payment: attempts, dates and the dunning
    state now: recovered (paid after a failure), written_off (marked uncollectible), voided, or
    retrying (still open). -#}
with invoice_events as (
    select
        event_id, stripe_invoice_id, event_type, created_at, attempt_count,
        usagebill_invoice_id, usagebill_customer_id, currency, total_minor, amount_due_minor
    from {{ ref('stg_stripe__invoice_events') }}
),

-- Stripe's decimals per currency, to convert the amount due from Stripe's minor units
currencies as (
    select currency, stripe_decimals
    from {{ ref('stripe_currency_units') }}
),

failed as (
    select
        stripe_invoice_id,
        count(*) as failed_attempts,
        max(attempt_count) as max_attempt_count,
        min(created_at) as first_failed_at,
        max(created_at) as last_failed_at
    from invoice_events
    where event_type = 'invoice.payment_failed'
    group by stripe_invoice_id
),

latest as (
    select
        *,
        row_number() over (partition by stripe_invoice_id order by created_at desc, event_id desc) as recency
    from invoice_events
),

outcomes as (
    select
        stripe_invoice_id,
        min(case when event_type = 'invoice.paid' then created_at end) as paid_at,
        min(case when event_type = 'invoice.marked_uncollectible' then created_at end) as written_off_at,
        min(case when event_type = 'invoice.voided' then created_at end) as voided_at
    from invoice_events
    group by stripe_invoice_id
),

final as (
    select
        failed.stripe_invoice_id,
        latest.usagebill_invoice_id,
        latest.usagebill_customer_id as customer_id,
        latest.currency,
        latest.total_minor,
        latest.amount_due_minor,
        {{ from_minor_units('latest.amount_due_minor', 'currencies.stripe_decimals') }}
            as amount_due,
        greatest(failed.failed_attempts, coalesce(failed.max_attempt_count, 0)) as failed_attempts,
        failed.first_failed_at,
        failed.last_failed_at,
        outcomes.paid_at as recovered_at,
        outcomes.written_off_at,
        outcomes.voided_at,
        case
            when outcomes.paid_at is not null then 'recovered'
            when outcomes.voided_at is not null then 'voided'
            when outcomes.written_off_at is not null then 'written_off'
            else 'retrying'
        end as dunning_state
    from failed
    inner join latest
        on failed.stripe_invoice_id = latest.stripe_invoice_id
            and latest.recency = 1
    left join outcomes on failed.stripe_invoice_id = outcomes.stripe_invoice_id
    left join currencies on latest.currency = currencies.currency
)

select * from final
