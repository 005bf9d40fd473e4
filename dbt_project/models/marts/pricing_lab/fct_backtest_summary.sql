{{ config(materialized='table', schema='pricing_lab') }}

{#- Per candidate, month and currency: billed and candidate revenue, the difference, and how the
    customers are spread: how many would pay more, less or the same, and how many change by more
    than the threshold (var('pricing_lab_threshold_pct')). Several candidates compare side by side. -#}

with customer_months as (
    select * from {{ ref('fct_backtest_customer_months') }}
),

per_customer as (
    select
        candidate,
        month_start,
        currency,
        tenant_id,
        customer_id,
        sum(billed_total) as billed_total,
        sum(candidate_total) as candidate_total,
        max(case when exceeds_threshold then 1 else 0 end) as exceeds_threshold
    from customer_months
    group by 1, 2, 3, 4, 5
),

final as (
    select
        candidate,
        month_start,
        currency,
        cast(sum(billed_total) as decimal(38, 12)) as billed_total,
        cast(sum(candidate_total) as decimal(38, 12)) as candidate_total,
        cast(sum(candidate_total) - sum(billed_total) as decimal(38, 12)) as difference,
        count(*) as customers,
        sum(case when candidate_total > billed_total then 1 else 0 end) as customers_paying_more,
        sum(case when candidate_total < billed_total then 1 else 0 end) as customers_paying_less,
        sum(case when candidate_total = billed_total then 1 else 0 end) as customers_unchanged,
        sum(exceeds_threshold) as customers_over_threshold
    from per_customer
    group by 1, 2, 3
)

select * from final
