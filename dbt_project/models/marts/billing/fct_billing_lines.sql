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

usage_months as (
    select
        subscription_id,
        period_start,
        period_end
    from {{ ref('int_rating__rating_periods') }}
    where is_usage_month
),

all_lines as (
    select * from period_lines
),

final as (
    select
        {# a usage month starts on its billing period's first day: its lines also key on period_end
            (the ids of all other lines are unchanged) #}
        case
            when usage_months.subscription_id is null
                then {{ surrogate_key(['all_lines.subscription_id', 'all_lines.period_start', 'line_type',
                    'billing_timing', 'charge_id', 'price_id', 'dimensions_json']) }}
            else {{ surrogate_key(['all_lines.subscription_id', 'all_lines.period_start', 'line_type',
                'billing_timing', 'charge_id', 'price_id', 'dimensions_json', 'all_lines.period_end']) }}
        end as billing_line_id,
        tenant_id,
        customer_id,
        all_lines.subscription_id,
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
        all_lines.period_start,
        all_lines.period_end,
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
            partition by all_lines.subscription_id, all_lines.period_start, all_lines.period_end
            order by application_step, billing_timing, charge_id, dimensions_json, line_type
        ) as integer) as sequence_in_period
    from all_lines
    left join usage_months
        on {{ columns_match('all_lines', 'usage_months', ['subscription_id', 'period_start', 'period_end']) }}
)

select * from final
