{{ config(schema='analytics') }}

{#- MRR movements per customer, currency and COMPLETE month (see doc mrr_movements; the
    provisional month of fct_mrr is left out). The CASE order is new, churn, reactivation, then
    expansion / contraction: a customer back from zero is a reactivation, not an expansion; the
    rise from a mid-month signup's partial first month to its first full month is the rest of
    the new business, so it is 'new', not expansion. Month-over-month and year-over-year growth
    per customer. -#}

with

mrr as (
    select * from {{ ref('fct_mrr') }}
    where not is_provisional
),

with_history as (
    select
        *,
        lag(mrr) over (partition by tenant_id, customer_id, currency order by month_start) as previous_mrr_raw,
        lag(mrr, 12) over (partition by tenant_id, customer_id, currency order by month_start) as mrr_12_months_ago,
        max(case when mrr > 0 then 1 else 0 end) over (
            partition by tenant_id, customer_id, currency
            order by month_start
            rows between unbounded preceding and 1 preceding
        ) as had_revenue_before
    from mrr
),

classified as (
    select
        mrr_id,
        tenant_id,
        customer_id,
        currency,
        month_start,
        cast(coalesce(previous_mrr_raw, 0) as decimal(38, 12)) as previous_mrr,
        mrr,
        cast(mrr - coalesce(previous_mrr_raw, 0) as decimal(38, 12)) as mrr_change,
        case
            when coalesce(previous_mrr_raw, 0) <= 0 and mrr > 0 and coalesce(had_revenue_before, 0) = 0 then 'new'
            when
                month_start = first_full_month
                and coalesce(previous_mrr_raw, 0) > 0
                and mrr > coalesce(previous_mrr_raw, 0)
                then 'new'
            when coalesce(previous_mrr_raw, 0) > 0 and mrr <= 0 then 'churn'
            when coalesce(previous_mrr_raw, 0) <= 0 and mrr > 0 then 'reactivation'
            when mrr > coalesce(previous_mrr_raw, 0) then 'expansion'
            when mrr < coalesce(previous_mrr_raw, 0) then 'contraction'
            else 'unchanged'
        end as movement_category,
        mrr_12_months_ago,
        reporting_currency,
        rate_to_reporting
    from with_history
),

final as (
    select
        mrr_id as movement_id,
        tenant_id,
        customer_id,
        currency,
        month_start,
        previous_mrr,
        mrr,
        mrr_change,
        movement_category,
        cast(case when movement_category = 'new' then mrr_change else 0 end as decimal(38, 12)) as new_mrr,
        cast(case when movement_category = 'expansion' then mrr_change else 0 end as decimal(38, 12)) as expansion_mrr,
        cast(case when movement_category = 'contraction' then mrr_change else 0 end as decimal(38, 12)) as contraction_mrr,
        cast(case when movement_category = 'churn' then mrr_change else 0 end as decimal(38, 12)) as churned_mrr,
        cast(case when movement_category = 'reactivation' then mrr_change else 0 end as decimal(38, 12)) as reactivation_mrr,
        reporting_currency,
        {{ decimal_multiply('mrr_change', 'rate_to_reporting') }} as mrr_change_reporting,
        {{ safe_divide('mrr_change', 'previous_mrr') }} as mom_growth,
        mrr_12_months_ago,
        {{ safe_divide('mrr - mrr_12_months_ago', 'mrr_12_months_ago') }} as yoy_growth
    from classified
)

select * from final
