{{ config(materialized='table', schema='billing') }}

{#- Every rated line of every subscription period, the input of invoicing. Periods that ended by
    var('as_of_date') are rated in full; a period that has only started shows its in-advance
    lines. Prepaid credits are not billing lines: they pay invoices after tax (docs/invoices.md,
    int_invoice_credit_burn). amount is full precision; amount_rounded is rounded once (half-up, currency minor
    unit); invoice totals are sums of amount_rounded. sequence_in_period numbers the lines of a
    (subscription, period) in the documented application order (application_step, then
    billing_timing, charge_id, dimensions_json, line_type). -#}

with period_lines as (
    select * from {{ ref('int_rating__period_lines') }}
),

final as (
    select
        {{ surrogate_key(['subscription_id', 'period_start', 'line_type', 'billing_timing', 'charge_id',
            'price_id', 'dimensions_json']) }} as billing_line_id,
        tenant_id,
        customer_id,
        subscription_id,
        plan_id,
        cast(plan_version as integer) as plan_version,
        charge_id,
        charge_name,
        charge_type,
        price_model,
        price_id,
        price_source,
        meter_id,
        line_type,
        billing_timing,
        period_start,
        period_end,
        service_start,
        service_end,
        cast(quantity as decimal(38, 12)) as quantity,
        cast(unit_price as decimal(38, 12)) as unit_price,
        tier_breakdown_json,
        cast(amount as decimal(38, 12)) as amount,
        cast(amount_rounded as decimal(38, 12)) as amount_rounded,
        currency,
        cast(minor_unit as integer) as minor_unit,
        dimensions_json,
        cast(application_step as integer) as application_step,
        cast(row_number() over (
            partition by subscription_id, period_start
            order by application_step, billing_timing, charge_id, dimensions_json, line_type
        ) as integer) as sequence_in_period
    from period_lines
)

select * from final
