{{ config(schema='analytics') }}

{#- Revenue recognition per invoice line and day (see doc revenue_recognition).
    Recurring lines (fees billed in advance or in arrears, prorations, trial credits, discounts)
    are recognized ratably: amount / days of the service period [period_start, period_end) per
    day, the last day taking the remainder so that a line's days add up to its amount exactly.
    Usage lines are recognized when used: in full in their usage period, dated on its last day
    (the usage is known, priced and delivered by then). Tax and prepaid-credit lines are not
    revenue. -#}

{#- The line's columns every recognized row repeats. -#}
{%- set line_columns -%}
        invoice_line_id,
        invoice_id,
        tenant_id,
        customer_id,
        currency,
        line_type,
        mrr_category as revenue_category
{%- endset %}

with

revenue_lines as (
    select * from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

bounds as (
    select
        min(period_start) as first_day,
        max(period_end) as end_day
    from revenue_lines
),

days as (
    {{ date_spine('(select bounds.first_day from bounds)', '(select bounds.end_day from bounds)') }}
),

ratable as (
    select
        revenue_lines.invoice_line_id,
        revenue_lines.invoice_id,
        revenue_lines.tenant_id,
        revenue_lines.customer_id,
        revenue_lines.currency,
        revenue_lines.line_type,
        revenue_lines.mrr_category,
        revenue_lines.amount,
        days.date_day as recognition_date,
        {{ days_between('revenue_lines.period_start', 'revenue_lines.period_end') }} as service_days,
        {{ days_between('revenue_lines.period_start', 'days.date_day') }} as day_index
    from revenue_lines
    inner join days
        on
            revenue_lines.period_start <= days.date_day
            and revenue_lines.period_end > days.date_day
    where revenue_lines.mrr_category = 'recurring'
),

ratable_amounts as (
    select
        *,
        {{ safe_divide('amount', 'service_days') }} as daily_amount
    from ratable
),

recognized_recurring as (
    select
        {{ line_columns }},
        recognition_date,
        'ratable_daily' as recognition_method,
        cast(case
            when day_index = service_days - 1 then amount - daily_amount * (service_days - 1)
            else daily_amount
        end as decimal(38, 12)) as recognized_amount
    from ratable_amounts
),

recognized_usage as (
    select
        {{ line_columns }},
        cast({{ add_interval('day', -1, 'period_end') }} as date) as recognition_date,
        'usage_in_period' as recognition_method,
        amount as recognized_amount
    from revenue_lines
    where mrr_category = 'usage'
),

final as (
    select * from recognized_recurring
    union all
    select * from recognized_usage
)

select * from final
