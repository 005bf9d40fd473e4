{{ config(schema='payments', materialized='table') }}
{#- Revenue recovery per currency and month of the first failed payment: how much failed, how much was
    recovered (paid later), written off or is still being retried, and the recovery rates
    (recovered / failed, by amount and by invoice count; null when nothing failed). -#}
with dunning as (
    select * from {{ ref('fct_dunning') }}
),

by_month as (
    select
        currency,
        cast(date_trunc('month', first_failed_at) as date) as failure_month,
        count(*) as failed_invoices,
        sum(amount_due) as failed_amount,
        count(*) filter (where dunning_state = 'recovered') as recovered_invoices,
        coalesce(sum(amount_due) filter (where dunning_state = 'recovered'), 0) as recovered_amount,
        coalesce(sum(amount_due) filter (where dunning_state = 'written_off'), 0) as written_off_amount,
        coalesce(sum(amount_due) filter (where dunning_state = 'retrying'), 0) as retrying_amount
    from dunning
    group by 1, 2
),

final as (
    select
        currency,
        failure_month,
        failed_invoices,
        cast(failed_amount as decimal(38, 12)) as failed_amount,
        recovered_invoices,
        cast(recovered_amount as decimal(38, 12)) as recovered_amount,
        cast(written_off_amount as decimal(38, 12)) as written_off_amount,
        cast(retrying_amount as decimal(38, 12)) as retrying_amount,
        {{ safe_divide('recovered_amount', 'failed_amount') }} as recovery_rate,
        {{ safe_divide('recovered_invoices', 'failed_invoices') }} as invoice_recovery_rate
    from by_month
)

select * from final
