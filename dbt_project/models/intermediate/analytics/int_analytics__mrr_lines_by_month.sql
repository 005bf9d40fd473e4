{{ config(materialized='view', schema='intermediate') }}

{#- Each MRR-relevant invoice line's revenue per calendar month, taken from
    fct_revenue_recognition so that MRR and recognized revenue agree to the last digit:
    a fee is spread over its service period by days (an annual 1,200 from 2026-02-15 gives
    1,200 x 14 / 365 in February 2026, ..., 1,200 x 14 / 365 in February 2027); usage counts
    in the month its usage period ends in (the month it is recognized in). -#}

with

recognition as (
    select
        invoice_line_id,
        tenant_id,
        customer_id,
        currency,
        revenue_category,
        recognition_date,
        recognized_amount
    from {{ ref('fct_revenue_recognition') }}
),

final as (
    select
        invoice_line_id,
        tenant_id,
        customer_id,
        currency,
        revenue_category as mrr_category,
        cast({{ trunc_to('month', 'recognition_date') }} as date) as month_start,
        cast(sum(recognized_amount) as decimal(38, 12)) as monthly_amount
    from recognition
    group by 1, 2, 3, 4, 5, 6
)

select * from final
