{#- Every recognized line adds up, over its days, to its invoice amount exactly. -#}
with

lines as (
    select invoice_line_id, period_start, period_end, amount from {{ ref('int_analytics__revenue_lines') }}
    where mrr_category in ('recurring', 'usage')
),

recognized as (
    select
        invoice_line_id,
        sum(recognized_amount) as recognized_amount
    from {{ ref('fct_revenue_recognition') }}
    group by 1
),

final as (
    select
        lines.invoice_line_id,
        lines.amount,
        recognized.recognized_amount
    from lines
    left join recognized
        on lines.invoice_line_id = recognized.invoice_line_id
    where
        lines.period_end > lines.period_start
        and (recognized.recognized_amount is null or recognized.recognized_amount != lines.amount)
)

select * from final
