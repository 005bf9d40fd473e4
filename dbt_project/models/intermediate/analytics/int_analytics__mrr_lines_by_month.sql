{{ config(materialized='view', schema='intermediate') }}

{#- Each MRR-relevant invoice line spread over the months of its service period: an annual fee
    of 1,200 gives 100 in each of its 12 months; a monthly fee or a month's usage stays in the
    month its period starts in. Exact decimal division (DECIMAL(38,12)). -#}

with

revenue_lines as (
    select
        *,
        cast({{ trunc_to('month', 'period_start') }} as date) as first_month,
        cast({{ add_interval('month', 'service_months', trunc_to('month', 'period_start')) }} as date) as end_month
    from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

bounds as (
    select
        min(first_month) as first_month,
        max(end_month) as end_month
    from revenue_lines
),

months as (
    {{ month_spine('(select bounds.first_month from bounds)', '(select bounds.end_month from bounds)') }}
),

spread as (
    select
        revenue_lines.invoice_line_id,
        revenue_lines.customer_id,
        revenue_lines.currency,
        revenue_lines.mrr_category,
        months.month_start,
        {{ safe_divide('revenue_lines.amount', 'revenue_lines.service_months') }} as monthly_amount
    from revenue_lines
    inner join months
        on
            revenue_lines.first_month <= months.month_start
            and revenue_lines.end_month > months.month_start
),

final as (
    select * from spread
)

select * from final
